//! `evctl serve` with a `proxy:` section: the proxy forwards to a device of the site over the
//! poller's own connection, so a device that takes one master still sees one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use modbus_core::Table;
use simulator::modbus::{Faults, Simulator};
use tokio_modbus::prelude::{Reader as _, Slave};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_shares_the_pollers_connection() {
    let registry = device_maps::Registry::built_in().unwrap();
    let map = Arc::clone(registry.get("eastron-sdm630").unwrap());
    let sim = Simulator::builder(&map)
        .faults(Faults {
            max_connections: Some(1),
            ..Faults::none()
        })
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let text = format!(
        "http: {{enabled: false}}\n\
         devices:\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n\
         proxy: {{listen: '127.0.0.1:0', device: meter, cache: {{input: 100ms}}}}\n",
        sim.local_addr().port()
    );
    let config = service::SiteConfig::parse(&text, std::path::Path::new("site.yaml")).unwrap();
    let specs = service::device_specs(&config, |id| {
        Ok::<_, std::convert::Infallible>(registry.get(id).map(Arc::clone))
    })
    .unwrap();
    let site = service::start_site(&config, specs).await.unwrap();
    common::wait_available(&site.service, &["meter"]).await;
    let proxy = site
        .proxy
        .as_ref()
        .expect("the proxy section starts a proxy");
    let expected: Vec<u16> = sim
        .registers(1, Table::Input, 0, 6)
        .into_iter()
        .map(|w| w.unwrap())
        .collect();
    for _ in 0..3 {
        let mut ctx = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_modbus::client::tcp::connect_slave(proxy.local_addr(), Slave(1)),
        )
        .await
        .unwrap()
        .unwrap();
        for _ in 0..5 {
            let words =
                tokio::time::timeout(Duration::from_secs(10), ctx.read_input_registers(0, 6))
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
            assert_eq!(words, expected);
        }
    }
    let stats = sim.stats();
    assert_eq!((stats.accepted, stats.refused), (1, 0), "{stats:?}");
    assert!(proxy.upstream_requests(0) >= 1);
    site.shutdown().await;
}
