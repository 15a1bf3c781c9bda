//! Topic names: one place that builds them and parses commands back.
//!
//! ```text
//! <prefix>/bridge/<client_id>/status        online | offline (retained; offline is the last will)
//! <prefix>/<device>/availability            online | offline (retained)
//! <prefix>/<device>/state                   JSON of every value (retained by default)
//! <prefix>/<device>/state/<register>        one value (retained by default)
//! <prefix>/<device>/set/<register>          command: the payload is the value
//! <prefix>/<device>/action/<name>           command: the payload is a JSON object of parameters
//! <prefix>/<device>/response                the outcome of each command (not retained)
//! ```
//!
//! Values live under `state/` rather than next to `availability`: a map may well have a
//! register called `availability` (Alfen's does), and two meanings must never share a topic.

/// What a command topic asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandKind {
    /// Write one register.
    Set(String),
    /// Run a named action.
    Action(String),
}

/// A command topic, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandTopic {
    /// The device id.
    pub device: String,
    /// What to do.
    pub kind: CommandKind,
}

/// Builds every topic of one process from the prefix and its client id.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    prefix: String,
    client_id: String,
}

impl Topics {
    pub(crate) fn new(prefix: &str, client_id: &str) -> Topics {
        Topics {
            prefix: prefix.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// This process's status: `online` while connected, `offline` as its last will.
    pub(crate) fn bridge_status(&self) -> String {
        format!("{}/bridge/{}/status", self.prefix, self.client_id)
    }

    pub(crate) fn availability(&self, device: &str) -> String {
        format!("{}/{device}/availability", self.prefix)
    }

    pub(crate) fn state(&self, device: &str) -> String {
        format!("{}/{device}/state", self.prefix)
    }

    pub(crate) fn value(&self, device: &str, register: &str) -> String {
        format!("{}/{device}/state/{register}", self.prefix)
    }

    pub(crate) fn set(&self, device: &str, register: &str) -> String {
        format!("{}/{device}/set/{register}", self.prefix)
    }

    pub(crate) fn action(&self, device: &str, name: &str) -> String {
        format!("{}/{device}/action/{name}", self.prefix)
    }

    pub(crate) fn response(&self, device: &str) -> String {
        format!("{}/{device}/response", self.prefix)
    }

    /// The subscriptions that bring this process the commands of `device`, and only its.
    pub(crate) fn command_filters(&self, device: &str) -> [String; 2] {
        [
            format!("{}/{device}/set/+", self.prefix),
            format!("{}/{device}/action/+", self.prefix),
        ]
    }

    /// Parses a command topic; `None` for anything else.
    pub(crate) fn parse_command(&self, topic: &str) -> Option<CommandTopic> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (device, verb, name) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || device.is_empty() || name.is_empty() {
            return None;
        }
        let kind = match verb {
            "set" => CommandKind::Set(name.to_owned()),
            "action" => CommandKind::Action(name.to_owned()),
            _ => return None,
        };
        Some(CommandTopic {
            device: device.to_owned(),
            kind,
        })
    }
}

/// Whether `text` can be one topic level (and part of a filter) as it is.
pub(crate) fn valid_level(text: &str) -> bool {
    !text.is_empty() && !text.contains(['/', '+', '#', '\0'])
}

/// Whether `text` is a usable prefix: levels separated by `/`, no wildcards.
pub(crate) fn valid_prefix(text: &str) -> bool {
    !text.is_empty() && text.split('/').all(valid_level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_back() {
        let topics = Topics::new("home/evctl", "evctl-a");
        assert_eq!(
            topics.parse_command(&topics.set("garage", "charging_current")),
            Some(CommandTopic {
                device: "garage".into(),
                kind: CommandKind::Set("charging_current".into())
            })
        );
        assert_eq!(
            topics.parse_command(&topics.action("inv", "setChargeSlot1")),
            Some(CommandTopic {
                device: "inv".into(),
                kind: CommandKind::Action("setChargeSlot1".into())
            })
        );
        for other in [
            "home/evctl/garage/state",
            "home/evctl/garage/state/availability",
            "home/evctl/garage/set",
            "home/evctl/garage/set/a/b",
            "home/evctl/garage/get/a",
            "home/evctlx/garage/set/a",
            "evctl/garage/set/a",
            "home/evctl//set/a",
        ] {
            assert_eq!(topics.parse_command(other), None, "{other}");
        }
    }

    #[test]
    fn a_register_called_availability_keeps_its_own_topic() {
        let topics = Topics::new("evctl", "evctl-a");
        assert_ne!(
            topics.value("garage", "availability"),
            topics.availability("garage")
        );
        assert_eq!(topics.bridge_status(), "evctl/bridge/evctl-a/status");
    }

    #[test]
    fn levels_and_prefixes() {
        assert!(valid_prefix("evctl"));
        assert!(valid_prefix("home/energy"));
        assert!(!valid_prefix("home/+"));
        assert!(!valid_prefix("home/"));
        assert!(!valid_prefix(""));
        assert!(!valid_level("a/b"));
        assert!(!valid_level("#"));
    }
}
