//! [`Units`]: the unit ids of one device, with the caller's overrides applied.

use crate::model::{DeviceMap, UnitRef};

/// The unit id of every role of a map, after `--unit` overrides.
///
/// ```
/// # let map = device_maps::parse_map("demo", DEMO).unwrap();
/// # const DEMO: &str = "manufacturer: A\nmodel: B\nconnection: {unit_ids: {station: 200, socket: 1}, main_unit: socket, address_base: 0}\nregisters:\n  - {name: x, address: 1, type: uint16, example: 1}\n";
/// let mut units = map.units();
/// units.apply("2")?;            // the main role (socket) becomes unit 2
/// units.apply("station=201")?;  // a named role
/// assert_eq!(units.id("socket"), Some(2));
/// assert_eq!(units.id("station"), Some(201));
/// # Ok::<(), device_maps::UnitError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    roles: Vec<(String, u8)>,
    main: String,
}

/// A `--unit` value that does not fit the map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not `N` or `ROLE=N` with N in 0..=255.
    #[error("`{value}` is not a unit id: write N or ROLE=N with N from 0 to 255")]
    Syntax {
        /// What was given.
        value: String,
    },
    /// A role the map does not have.
    #[error("the map has no unit role `{role}`; its roles are: {known}")]
    UnknownRole {
        /// What was given.
        role: String,
        /// The roles of the map, comma separated.
        known: String,
    },
}

impl DeviceMap {
    /// The map's unit ids, before any override.
    pub fn units(&self) -> Units {
        Units {
            roles: self.connection.unit_ids.clone(),
            main: self.connection.main_unit.clone(),
        }
    }
}

impl Units {
    /// The id of a role.
    pub fn id(&self, role: &str) -> Option<u8> {
        self.roles
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, id)| *id)
    }

    /// The main role's name.
    pub fn main_role(&self) -> &str {
        &self.main
    }

    /// The main role's id.
    pub fn main_id(&self) -> u8 {
        self.id(&self.main).unwrap_or(0)
    }

    /// Every role and its id.
    pub fn roles(&self) -> &[(String, u8)] {
        &self.roles
    }

    /// Sets the main role's id (what a bare `--unit N` does).
    pub fn set_main(&mut self, id: u8) {
        let main = self.main.clone();
        self.set_role(&main, id);
    }

    /// Sets a named role's id.
    pub fn set(&mut self, role: &str, id: u8) -> Result<(), UnitError> {
        if self.id(role).is_none() {
            return Err(UnitError::UnknownRole {
                role: role.to_owned(),
                known: self
                    .roles
                    .iter()
                    .map(|(r, id)| format!("{r} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        self.set_role(role, id);
        Ok(())
    }

    fn set_role(&mut self, role: &str, id: u8) {
        for (r, v) in &mut self.roles {
            if r == role {
                *v = id;
            }
        }
    }

    /// Applies one `--unit` value: `N` for the main role or `ROLE=N`.
    pub fn apply(&mut self, value: &str) -> Result<(), UnitError> {
        let syntax = || UnitError::Syntax {
            value: value.to_owned(),
        };
        match value.split_once('=') {
            Some((role, id)) => {
                let id: u8 = id.trim().parse().map_err(|_| syntax())?;
                self.set(role.trim(), id)
            }
            None => {
                let id: u8 = value.trim().parse().map_err(|_| syntax())?;
                self.set_main(id);
                Ok(())
            }
        }
    }

    /// The unit id a register reference resolves to.
    pub fn resolve(&self, unit: &UnitRef) -> u8 {
        match unit {
            UnitRef::Id(id) => *id,
            UnitRef::Role(role) => self.id(role).unwrap_or_else(|| self.main_id()),
        }
    }
}
