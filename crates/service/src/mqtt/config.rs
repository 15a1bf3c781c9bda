//! The `mqtt:` section of the site config.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::Secret;

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
    /// Client id (default: `evctl-` and the host name).
    pub client_id: Option<String>,
    /// Prefix of every state, availability and command topic (default `evctl`).
    pub topic_prefix: String,
    /// Home Assistant discovery prefix (default `homeassistant`); empty: no discovery.
    pub discovery_prefix: String,
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
        }
    }
}

/// TLS settings for the broker connection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTls {
    /// CA certificate file (PEM); absent: the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for brokers that require one.
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM).
    pub key_file: Option<PathBuf>,
}
