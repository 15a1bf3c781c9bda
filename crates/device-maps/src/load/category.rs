//! `category:`: the kind of device, one word of [`crate::Category`].

use super::*;

impl Checker<'_> {
    /// `category:`, when given: one of the device kinds.
    pub(super) fn category(&self, word: Option<&str>) -> Check<Option<crate::Category>> {
        let Some(word) = word else { return Ok(None) };
        crate::Category::from_name(word).map(Some).ok_or_else(|| {
            self.at(
                "category",
                None,
                format!("unknown category `{word}`"),
                Some("charger, meter, inverter, battery"),
            )
        })
    }
}
