//! MQTT output (placeholder: state topics, availability, commands and Home Assistant discovery land here).

mod config;

pub use config::{MqttConfig, MqttTls};
