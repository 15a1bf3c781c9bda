//! Roles: what a register means for a whole site, so a program can add up the grid, PV,
//! battery and charging power of devices it knows nothing else about. A register says
//! `role: grid_power`; a device that counts the other way round says `role: -grid_power`
//! (its value is the negative of the quantity). Each role has one sign convention and one kind
//! of unit, checked when the map loads.

use std::fmt;

/// A site quantity a register can stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// Power at the grid connection, positive when importing.
    GridPower,
    /// Power the PV produces.
    PvPower,
    /// Power of a battery, positive when discharging (into the site).
    BatteryPower,
    /// A battery's state of charge, in percent.
    BatterySoc,
    /// Power an EV charger delivers to the car.
    ChargingPower,
    /// Power the site's loads consume.
    LoadPower,
    /// Energy imported from the grid (a counter).
    ImportEnergy,
    /// Energy exported to the grid (a counter).
    ExportEnergy,
}

/// The kind of unit a quantity is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// W, kW or MW.
    Power,
    /// Wh, kWh or MWh.
    Energy,
    /// %.
    Percent,
}

impl Quantity {
    /// Every quantity, in the order documents list them.
    pub const ALL: [Quantity; 8] = [
        Quantity::GridPower,
        Quantity::PvPower,
        Quantity::BatteryPower,
        Quantity::BatterySoc,
        Quantity::ChargingPower,
        Quantity::LoadPower,
        Quantity::ImportEnergy,
        Quantity::ExportEnergy,
    ];

    /// The name used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            Quantity::GridPower => "grid_power",
            Quantity::PvPower => "pv_power",
            Quantity::BatteryPower => "battery_power",
            Quantity::BatterySoc => "battery_soc",
            Quantity::ChargingPower => "charging_power",
            Quantity::LoadPower => "load_power",
            Quantity::ImportEnergy => "import_energy",
            Quantity::ExportEnergy => "export_energy",
        }
    }

    /// The kind of unit the register must have.
    pub const fn dimension(self) -> Dimension {
        match self {
            Quantity::GridPower
            | Quantity::PvPower
            | Quantity::BatteryPower
            | Quantity::ChargingPower
            | Quantity::LoadPower => Dimension::Power,
            Quantity::BatterySoc => Dimension::Percent,
            Quantity::ImportEnergy | Quantity::ExportEnergy => Dimension::Energy,
        }
    }
}

impl Dimension {
    /// The factor from `unit` to this dimension's base unit (W, kWh, %), when it is one of its
    /// units.
    pub fn factor(self, unit: &str) -> Option<f64> {
        match (self, unit) {
            (Dimension::Power, "W") => Some(1.0),
            (Dimension::Power, "kW") => Some(1e3),
            (Dimension::Power, "MW") => Some(1e6),
            (Dimension::Energy, "Wh") => Some(1e-3),
            (Dimension::Energy, "kWh") => Some(1.0),
            (Dimension::Energy, "MWh") => Some(1e3),
            (Dimension::Percent, "%") => Some(1.0),
            _ => None,
        }
    }

    /// The units allowed, for messages.
    pub const fn units(self) -> &'static str {
        match self {
            Dimension::Power => "W, kW or MW",
            Dimension::Energy => "Wh, kWh or MWh",
            Dimension::Percent => "%",
        }
    }
}

/// A register's role: the quantity, and whether the register counts the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role {
    /// What it stands for.
    pub quantity: Quantity,
    /// The register's value is the negative of the quantity (`-grid_power`).
    pub inverted: bool,
}

impl Role {
    /// Reads `grid_power` or `-grid_power`.
    pub fn parse(text: &str) -> Option<Role> {
        let text = text.trim();
        let (inverted, name) = match text.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, text),
        };
        Quantity::ALL
            .into_iter()
            .find(|q| q.name() == name)
            .map(|quantity| Role { quantity, inverted })
    }

    /// The quantity in its base unit (W, kWh, %) from a register value in `unit`.
    pub fn site_value(&self, value: f64, unit: &str) -> Option<f64> {
        let factor = self.quantity.dimension().factor(unit)?;
        let sign = if self.inverted { -1.0 } else { 1.0 };
        Some(sign * factor * value)
    }

    /// The names allowed, for messages.
    pub fn allowed() -> String {
        Quantity::ALL.map(Quantity::name).join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inverted {
            f.write_str("-")?;
        }
        f.write_str(self.quantity.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_and_convert_to_the_base_unit() {
        for quantity in Quantity::ALL {
            let role = Role::parse(quantity.name()).expect("a role");
            assert_eq!(Role::parse(&role.to_string()), Some(role));
            let minus = Role::parse(&format!("-{}", quantity.name())).expect("inverted");
            assert!(minus.inverted);
        }
        assert_eq!(Role::parse("grid"), None);
        let grid = Role::parse("-grid_power").expect("a role");
        assert_eq!(grid.site_value(1.5, "kW"), Some(-1500.0));
        assert_eq!(grid.site_value(1.5, "kWh"), None);
        let soc = Role::parse("battery_soc").expect("a role");
        assert_eq!(soc.site_value(80.0, "%"), Some(80.0));
    }
}
