//! EM time: the charger's Asia/Shanghai wall clock (UTC+8, no DST) as a `u32`.
//!
//! The app encodes a moment as the Unix time of the user's local wall-clock date and time read
//! as if it were Shanghai time: `em = unix + local_offset − 8 h`. Decoding reads the Shanghai
//! wall-clock fields of `em` back in the local zone.

/// A timestamp as the charger carries it. 0 and `0xffffffff` mean "no time".
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct EmTime(pub u32);

impl EmTime {
    /// "No time" as some firmware sends it.
    pub const UNSET: Self = Self(0xffff_ffff);

    /// Whether this is a real time (neither 0 nor `0xffffffff`).
    pub const fn is_set(self) -> bool {
        self.0 != 0 && self.0 != 0xffff_ffff
    }
}
