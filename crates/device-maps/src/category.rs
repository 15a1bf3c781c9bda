//! What kind of device a map describes (`category:`): a charger, a meter, an inverter or a
//! battery. It says nothing about how the device is read; the generated device table and
//! `evctl list` group maps by it.

use std::fmt;

/// The kind of device a map is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// An EV charger (wallbox, charging station).
    Charger,
    /// An energy meter.
    Meter,
    /// A PV or hybrid inverter (with or without a battery behind it).
    Inverter,
    /// A home battery system read on its own.
    Battery,
}

impl Category {
    /// Every category, in the order the device table lists them.
    pub const ALL: [Category; 4] = [
        Category::Charger,
        Category::Meter,
        Category::Inverter,
        Category::Battery,
    ];

    /// The word used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Charger => "charger",
            Category::Meter => "meter",
            Category::Inverter => "inverter",
            Category::Battery => "battery",
        }
    }

    /// The category a map file's word names.
    pub fn from_name(word: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == word)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back() {
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.name()), Some(c));
        }
        assert_eq!(Category::from_name("wallbox"), None);
    }
}
