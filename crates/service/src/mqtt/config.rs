//! The `mqtt:` section of the site config.
//!
//! ```yaml
//! mqtt:
//!   host: broker.lan
//!   port: 8883
//!   tls: {ca_file: /etc/evctl/broker-ca.pem}
//!   username: evctl
//!   password_file: /etc/evctl/mqtt-password   # or `password:`; never on the command line
//!   client_id: evctl-garage                    # also names the bridge status topic
//!   keep_alive: 30s
//!   topic_prefix: evctl
//!   discovery_prefix: homeassistant            # empty: no Home Assistant discovery
//!   per_value_topics: true
//!   retain: true
//!   min_backoff: 500ms
//!   max_backoff: 30s
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::{Secret, Shard};

/// The `mqtt:` section: where the broker is and how topics are named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (default 1883).
    pub port: u16,
    /// TLS to the broker; absent: plain TCP.
    pub tls: Option<MqttTls>,
    /// User name.
    pub username: Option<String>,
    /// Password (prefer `password_file`).
    pub password: Option<Secret>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
    /// Client id (default: `evctl-` and the host name, plus `-shard<I>of<N>` when the site is
    /// split). It must be unique on the broker, and it names this process's bridge status
    /// topic `<topic_prefix>/bridge/<client_id>/status`.
    pub client_id: Option<String>,
    /// Prefix of every state, availability and command topic (default `evctl`).
    pub topic_prefix: String,
    /// Home Assistant discovery prefix (default `homeassistant`); empty: no discovery.
    pub discovery_prefix: String,
    /// Keep-alive interval: the broker declares the process dead (and publishes its last
    /// will) after 1.5 times this without a packet (default 30 s, at least 1 s).
    #[serde(deserialize_with = "duration")]
    pub keep_alive: Duration,
    /// Also publish each value on its own topic `<prefix>/<device>/state/<register>`
    /// (default true).
    pub per_value_topics: bool,
    /// Publish state and value topics retained, so a new subscriber gets the latest at once
    /// (default true). Discovery and availability are always retained.
    pub retain: bool,
    /// First wait before reconnecting to a broker that went away (default 500 ms); it
    /// doubles after each failed attempt.
    #[serde(deserialize_with = "duration")]
    pub min_backoff: Duration,
    /// Longest wait between two connection attempts (default 30 s).
    #[serde(deserialize_with = "duration")]
    pub max_backoff: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 1883,
            tls: None,
            username: None,
            password: None,
            password_file: None,
            client_id: None,
            topic_prefix: "evctl".to_owned(),
            discovery_prefix: "homeassistant".to_owned(),
            keep_alive: Duration::from_secs(30),
            per_value_topics: true,
            retain: true,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl MqttConfig {
    /// The client id this process uses: the configured one, or `evctl-<host name>` with
    /// `-shard<I>of<N>` appended when `shard` splits the site (so two shards on one machine
    /// never take over each other's session).
    pub fn effective_client_id(&self, shard: Option<&Shard>) -> String {
        if let Some(id) = &self.client_id {
            return id.clone();
        }
        let host = host_name().unwrap_or_else(|| "host".to_owned());
        let mut id = format!("evctl-{host}");
        if let Some(shard) = shard {
            if !shard.devices.is_empty() {
                id.push_str(&format!("-shard{}", shard.index));
            } else if shard.count > 1 {
                id.push_str(&format!("-shard{}of{}", shard.index, shard.count));
            }
        }
        id
    }
}

/// The machine's host name, reduced to characters that are safe in a topic level.
fn host_name() -> Option<String> {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())?;
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

/// TLS settings for the broker connection: the same files as every TLS client of evctl.
pub type MqttTls = crate::tls::TlsFiles;

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    device_maps::parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration; write e.g. 500ms, 30s or 1m"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_parses_durations_hides_the_password_and_refuses_typos() {
        let config: MqttConfig = serde_yaml::from_str(
            "host: broker.lan\nkeep_alive: 10s\nmin_backoff: 100ms\nmax_backoff: 1m\n\
             username: evctl\npassword: hunter2-secret\ntls: {ca_file: /etc/ca.pem}\n",
        )
        .expect("valid section");
        assert_eq!(config.keep_alive, Duration::from_secs(10));
        assert_eq!(config.min_backoff, Duration::from_millis(100));
        assert_eq!(config.max_backoff, Duration::from_secs(60));
        assert_eq!(config.topic_prefix, "evctl");
        assert!(!format!("{config:?}").contains("hunter2"));
        let typo = serde_yaml::from_str::<MqttConfig>("hots: broker.lan\n").expect_err("typo");
        assert!(typo.to_string().contains("hots"), "{typo}");
        let bad = serde_yaml::from_str::<MqttConfig>("keep_alive: soon\n").expect_err("bad");
        assert!(bad.to_string().contains("soon"), "{bad}");
    }

    #[test]
    fn default_client_ids_differ_per_shard() {
        let config = MqttConfig::default();
        let whole = config.effective_client_id(None);
        let first = config.effective_client_id(Shard::parse("0/2").ok().as_ref());
        let second = config.effective_client_id(Shard::parse("1/2").ok().as_ref());
        assert!(whole.starts_with("evctl-"), "{whole}");
        assert_eq!(first, format!("{whole}-shard0of2"));
        assert_ne!(first, second);
        let named = MqttConfig {
            client_id: Some("garage-bridge".into()),
            ..MqttConfig::default()
        };
        assert_eq!(named.effective_client_id(None), "garage-bridge");
    }
}
