//! The Kubernetes manifests of `deploy/kubernetes/` agree with each other and with evctl: the
//! shard count is the replica count, the probes reach `/healthz` on the port evctl listens on,
//! the site config in the ConfigMap loads and every secret file it names is a key of the Secret
//! mounted where it looks, and the selectors select the pods.

use std::path::{Path, PathBuf};

use serde_yaml::Value;
use service::SiteConfig;

fn manifest(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../deploy/kubernetes", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        })
}

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not text: {:?}", at(v, path)))
}

#[test]
fn the_manifests_agree_with_each_other_and_with_evctl() {
    let sts = manifest("statefulset.yaml");
    let config_map = manifest("configmap.yaml");
    let secret = manifest("secret.yaml");
    let service = manifest("service.yaml");
    let pdb = manifest("pdb.yaml");
    assert_eq!(text(&sts, "kind"), "StatefulSet");
    let container = at(&sts, "spec.template.spec.containers.0");

    // Shards: the count is the replica count; the index comes from the pod ordinal.
    let replicas = at(&sts, "spec.replicas").as_u64().expect("replicas");
    let env = at(container, "env").as_sequence().expect("env");
    let count = env
        .iter()
        .find(|e| e["name"] == "EVCTL_SHARD_COUNT")
        .and_then(|e| e["value"].as_str())
        .expect("EVCTL_SHARD_COUNT");
    assert_eq!(count.parse::<u64>().ok(), Some(replicas));
    let args: Vec<&str> = at(container, "args")
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .and_then(|i| args.get(i + 1))
            .copied()
            .unwrap_or_else(|| panic!("{flag} in {args:?}"))
    };
    assert_eq!(after("--shard"), "auto");
    // The same arguments parse as a shard for every pod of the set.
    for ordinal in 0..replicas {
        let shard = service::Shard::auto(Some(&format!("evctl-{ordinal}")), None, Some(count))
            .expect("shard");
        assert_eq!(u64::from(shard.index), ordinal);
    }

    // Probes: /healthz on the port evctl listens on.
    let port = at(container, "ports.0.containerPort")
        .as_u64()
        .expect("containerPort");
    let port_name = text(container, "ports.0.name");
    let listen_port: u64 = after("--listen")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_eq!(listen_port, port);
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            text(container, &format!("{probe}.httpGet.path")),
            "/healthz"
        );
        assert_eq!(text(container, &format!("{probe}.httpGet.port")), port_name);
    }

    // The site config: where evctl reads it, and that it loads.
    let mounts = at(container, "volumeMounts").as_sequence().expect("mounts");
    let mount_of = |volume: &str| -> &str {
        mounts
            .iter()
            .find(|m| m["name"] == volume)
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_else(|| panic!("mount of {volume}"))
    };
    assert_eq!(after("--config"), mount_of("site"));
    let site_text = config_map["data"]["site.yaml"]
        .as_str()
        .expect("data site.yaml");
    let site =
        SiteConfig::parse(site_text, Path::new("configmap site.yaml")).expect("site config loads");
    assert!(!site.devices.is_empty());

    // Secrets: every file the site config names is a key of the mounted Secret.
    let secrets_dir = Path::new(mount_of("secrets"));
    let volumes = at(&sts, "spec.template.spec.volumes")
        .as_sequence()
        .expect("volumes");
    let secret_name = volumes
        .iter()
        .find(|v| v["name"] == "secrets")
        .and_then(|v| v["secret"]["secretName"].as_str())
        .expect("secret volume");
    assert_eq!(text(&secret, "metadata.name"), secret_name);
    let keys = at(&secret, "stringData").as_mapping().expect("stringData");
    let mut files = vec![site.http.token_file.clone().expect("http token file")];
    files.extend(site.mqtt.as_ref().and_then(|m| m.password_file.clone()));
    for file in files {
        assert_eq!(file.parent(), Some(secrets_dir), "{}", file.display());
        let key = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        assert!(keys.contains_key(key), "the Secret has no key {key}");
    }
    // The config map mounted is this one; the state folder is writable (an emptyDir).
    assert!(
        volumes
            .iter()
            .any(|v| v["configMap"]["name"] == at(&config_map, "metadata.name").clone())
    );
    let state_dir = site.em.state_dir.clone().expect("em.state_dir");
    assert_eq!(Path::new(mount_of("state")), state_dir);
    let listen = site
        .http
        .listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u64>().ok());
    assert!(listen == Some(port) || after("--listen").ends_with(&format!(":{port}")));

    // Non-root, read-only root filesystem.
    assert_eq!(
        at(&sts, "spec.template.spec.securityContext.runAsNonRoot"),
        &Value::Bool(true)
    );
    assert_eq!(
        at(container, "securityContext.readOnlyRootFilesystem"),
        &Value::Bool(true)
    );

    // Selectors select the pods.
    let labels = at(&sts, "spec.template.metadata.labels");
    assert_eq!(at(&sts, "spec.selector.matchLabels"), labels);
    assert_eq!(at(&pdb, "spec.selector.matchLabels"), labels);
    assert_eq!(at(&service, "spec.selector"), labels);
    assert_eq!(
        text(&service, "metadata.name"),
        text(&sts, "spec.serviceName")
    );
    assert_eq!(text(&service, "spec.ports.0.targetPort"), port_name);
}
