//! What goes wrong walking a SunSpec chain.

/// A SunSpec chain that could not be walked; each names the address at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// No base address held the `SunS` marker.
    #[error("no SunSpec marker `SunS` at unit {unit}: {}", tried.iter().map(|(b, why)| format!("{b}: {why}")).collect::<Vec<_>>().join("; "))]
    NoMarker {
        /// The unit id asked.
        unit: u8,
        /// Each base tried, with what it held or why it could not be read.
        tried: Vec<(u16, String)>,
    },
    /// A model header could not be read.
    #[error(
        "cannot read the SunSpec model header at {address} (unit {unit}, model {index} of the chain): {reason}"
    )]
    Header {
        /// The unit id asked.
        unit: u8,
        /// The wire address of the header.
        address: u16,
        /// Which model of the chain, from 1.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A model's length runs beyond the last register address.
    #[error(
        "SunSpec model {id} at {address} (unit {unit}) is {length} registers long, beyond address 65535"
    )]
    Overflow {
        /// The unit id asked.
        unit: u8,
        /// The model id.
        id: u16,
        /// The wire address of its header.
        address: u16,
        /// Its announced length.
        length: u16,
    },
    /// The chain does not end within the limit.
    #[error(
        "SunSpec chain at unit {unit} has more than {limit} models without an end marker (last at {address})"
    )]
    TooLong {
        /// The unit id asked.
        unit: u8,
        /// The limit.
        limit: usize,
        /// The address of the last header read.
        address: u16,
    },
}
