//! Reading a device's chain of models.

use modbus_core::Table;

use super::error::WalkError;
use super::{Chain, ChainModel, END_ID, MARKER};
use crate::io::RegisterIo;

/// Where the standard allows the marker, in the order to try.
pub const DEFAULT_BASES: [u16; 3] = [40000, 0, 50000];

/// The most models a chain may have before the walk gives up.
pub const MAX_MODELS: usize = 256;

/// Reads the chain of unit `unit`: the marker at the first of `bases` that holds it, then one
/// request per model header until the end marker (id 0xFFFF, or a header that cannot be read
/// right after the last model, as some devices end their chain).
pub async fn walk<I: RegisterIo>(io: &mut I, unit: u8, bases: &[u16]) -> Result<Chain, WalkError> {
    let mut tried = Vec::new();
    let mut found = None;
    for &base in bases {
        match io.read(unit, Table::Holding, base, 2).await {
            Ok(words) if words == MARKER => {
                found = Some(base);
                break;
            }
            Ok(words) => tried.push((
                base,
                format!(
                    "found {:04X} {:04X}",
                    words[0],
                    words.get(1).copied().unwrap_or(0)
                ),
            )),
            Err(e) => tried.push((base, e.to_string())),
        }
    }
    let Some(base) = found else {
        return Err(WalkError::NoMarker { unit, tried });
    };
    let mut models = Vec::new();
    let mut address = u32::from(base) + 2;
    loop {
        if models.len() >= MAX_MODELS {
            return Err(WalkError::TooLong {
                unit,
                limit: MAX_MODELS,
                address: address as u16,
            });
        }
        let at = u16::try_from(address).map_err(|_| WalkError::TooLong {
            unit,
            limit: models.len(),
            address: u16::MAX,
        })?;
        let header = match io.read(unit, Table::Holding, at, 2).await {
            Ok(words) => words,
            Err(e) if !models.is_empty() => {
                // Some devices answer "illegal address" after their last model instead of an
                // end marker; the chain read so far stands.
                let _ = e;
                break;
            }
            Err(e) => {
                return Err(WalkError::Header {
                    unit,
                    address: at,
                    index: models.len() + 1,
                    reason: e.to_string(),
                });
            }
        };
        let (id, length) = (header[0], header.get(1).copied().unwrap_or(0));
        if id == END_ID {
            break;
        }
        let next = address + 2 + u32::from(length);
        if next > u32::from(u16::MAX) {
            return Err(WalkError::Overflow {
                unit,
                id,
                address: at,
                length,
            });
        }
        models.push(ChainModel {
            id,
            length,
            address: at,
        });
        address = next;
    }
    Ok(Chain { base, models })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDevice;
    use crate::block_on;

    fn device(base: u16, chain: &[(u16, u16)], end: bool) -> MemoryDevice {
        let mut d = MemoryDevice::new().strict();
        d.set(1, Table::Holding, base, &MARKER);
        let mut at = base + 2;
        for &(id, len) in chain {
            d.set(1, Table::Holding, at, &[id, len]);
            d.set(1, Table::Holding, at + 2, &vec![0; usize::from(len)]);
            at += 2 + len;
        }
        if end {
            d.set(1, Table::Holding, at, &[END_ID, 0]);
        }
        d
    }

    #[test]
    fn walks_from_the_first_base_with_the_marker() {
        let mut d = device(50000, &[(1, 66), (64001, 7), (160, 48), (201, 105)], true);
        let chain = block_on(walk(&mut d, 1, &DEFAULT_BASES)).unwrap();
        assert_eq!(chain.base, 50000);
        let ids: Vec<(u16, u16)> = chain.models.iter().map(|m| (m.id, m.length)).collect();
        assert_eq!(ids, [(1, 66), (64001, 7), (160, 48), (201, 105)]);
        assert_eq!(chain.models[1].address, 50002 + 68);
        assert_eq!(Chain::new(50000, &ids).unwrap(), chain);
    }

    #[test]
    fn a_chain_without_end_marker_ends_where_reading_fails() {
        let mut d = device(40000, &[(1, 66), (103, 50)], false);
        let chain = block_on(walk(&mut d, 1, &DEFAULT_BASES)).unwrap();
        assert_eq!(chain.models.len(), 2);
    }

    #[test]
    fn no_marker_names_every_base_tried() {
        let mut d = MemoryDevice::new().strict();
        d.set(1, Table::Holding, 40000, &[1, 2]);
        let err = block_on(walk(&mut d, 1, &DEFAULT_BASES)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("40000: found 0001 0002"), "{text}");
        assert!(text.contains("50000"), "{text}");
    }

    #[test]
    fn a_length_beyond_the_address_space_is_refused() {
        let mut d = MemoryDevice::new().strict();
        d.set(1, Table::Holding, 50000, &MARKER);
        d.set(1, Table::Holding, 50002, &[1, 60000]);
        let err = block_on(walk(&mut d, 1, &[50000])).unwrap_err();
        assert!(matches!(err, WalkError::Overflow { id: 1, .. }), "{err}");
    }
}
