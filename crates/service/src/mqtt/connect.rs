//! Turns the `mqtt:` section into rumqttc options: credentials, TLS, last will, session.

use std::fmt;
use std::sync::Arc;

use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};

use super::MqttError;
use super::config::MqttConfig;
use super::topics::Topics;
use crate::config::{Secret, resolve_secret};

/// Largest packet sent or accepted: a whole-device state JSON of a big map fits easily.
const MAX_PACKET: usize = 1 << 20;

/// Everything needed to (re)connect, resolved once at start so a bad file fails at once.
pub(crate) struct Resolved {
    pub options: MqttOptions,
    /// For logs: where we connect, never with credentials.
    pub broker: String,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // MqttOptions carries the password: show only the broker.
        f.debug_struct("Resolved")
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

pub(crate) fn resolve(
    config: &MqttConfig,
    client_id: &str,
    topics: &Topics,
) -> Result<Resolved, MqttError> {
    let mut options = MqttOptions::new(client_id, config.host.clone(), config.port);
    options.set_keep_alive(config.keep_alive.max(std::time::Duration::from_secs(1)));
    // A persistent session: the broker keeps our subscriptions and queues QoS 1 commands
    // while we are away, and hands them over when we come back.
    options.set_clean_session(false);
    options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    options.set_last_will(LastWill::new(
        topics.bridge_status(),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    let password = resolve_secret(config.password.as_ref(), config.password_file.as_deref())
        .map_err(|source| MqttError::Config {
            message: "cannot read the MQTT password".to_owned(),
            source: Some(Box::new(source)),
        })?;
    match (&config.username, password) {
        (Some(user), password) => {
            let password = password.as_ref().map(Secret::expose).unwrap_or("");
            options.set_credentials(user.clone(), password.to_owned());
        }
        (None, Some(_)) => {
            return Err(MqttError::Config {
                message: "mqtt: a password is set but no `username`".to_owned(),
                source: None,
            });
        }
        (None, None) => {}
    }
    if let Some(tls) = &config.tls {
        let client = crate::tls::client_config(tls, "mqtt.tls")?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(client),
        )));
    }
    let scheme = if config.tls.is_some() {
        "mqtts"
    } else {
        "mqtt"
    };
    Ok(Resolved {
        options,
        broker: format!("{scheme}://{}:{}", config.host, config.port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::MqttTls;

    fn resolve_with(config: &MqttConfig) -> Result<Resolved, MqttError> {
        resolve(config, "evctl-test", &Topics::new("evctl", "evctl-test"))
    }

    #[test]
    fn the_password_is_read_from_its_file_and_never_debug_printed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("password");
        std::fs::write(&file, "from-the-file-123\nignored second line\n").expect("write");
        let config = MqttConfig {
            username: Some("evctl".into()),
            password_file: Some(file),
            ..MqttConfig::default()
        };
        let resolved = resolve_with(&config).expect("resolves");
        let login = resolved.options.credentials().expect("credentials set");
        assert_eq!(login.password, "from-the-file-123");
        assert!(!format!("{resolved:?}").contains("from-the-file"));
        assert_eq!(resolved.broker, "mqtt://127.0.0.1:1883");
        assert!(!resolved.options.clean_session(), "a persistent session");
        let will = resolved.options.last_will().expect("a last will");
        assert_eq!(will.topic, "evctl/bridge/evctl-test/status");
        assert!(will.retain);
    }

    #[test]
    fn bad_settings_fail_at_start_naming_what_to_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello\n").expect("write");
        let cases = [
            MqttConfig {
                password: Some(Secret::new("x")),
                ..MqttConfig::default()
            },
            MqttConfig {
                username: Some("u".into()),
                password_file: Some(empty.clone()),
                ..MqttConfig::default()
            },
            MqttConfig {
                tls: Some(MqttTls {
                    ca_file: Some(dir.path().join("missing.pem")),
                    ..MqttTls::default()
                }),
                ..MqttConfig::default()
            },
            MqttConfig {
                tls: Some(MqttTls {
                    ca_file: Some(not_pem.clone()),
                    ..MqttTls::default()
                }),
                ..MqttConfig::default()
            },
            MqttConfig {
                tls: Some(MqttTls {
                    ca_file: Some(not_pem.clone()),
                    cert_file: Some(not_pem),
                    key_file: None,
                }),
                ..MqttConfig::default()
            },
        ];
        let mut messages = Vec::new();
        for config in &cases {
            let err = resolve_with(config).expect_err("refused");
            messages.push(crate::error_chain(&err));
        }
        assert!(messages[0].contains("username"), "{}", messages[0]);
        assert!(messages[1].contains("empty"), "{}", messages[1]);
        assert!(messages[2].contains("missing.pem"), "{}", messages[2]);
        assert!(messages[3].contains("not.pem"), "{}", messages[3]);
    }
}
