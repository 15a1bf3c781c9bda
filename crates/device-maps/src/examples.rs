//! Example values as register words: what a simulator serves and what the tests decode.

use modbus_core::Value;

use crate::model::{DeviceMap, Register, RegisterType, Scale};
use crate::read::apply_power_of_ten;

/// Why an example cannot be turned into words (never for a map that loaded: loading checks
/// every example encodes).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the example of `{register}` cannot be encoded: {reason}")]
pub struct ExampleError {
    /// The register.
    pub register: String,
    /// Why.
    pub reason: String,
}

/// Encodes `value` (in `r`'s unit) into `r`'s words, given the exponent of its scale-factor
/// register when it has one.
pub fn encode_value(
    r: &Register,
    value: &Value,
    sf: Option<i64>,
) -> Result<Vec<u16>, ExampleError> {
    let err = |reason: String| ExampleError {
        register: r.name.clone(),
        reason,
    };
    match (r.register_type, &r.codec) {
        (RegisterType::Bool, _) => {
            let on = match value {
                Value::Bool(b) => *b,
                other => other.as_f64().is_some_and(|v| v != 0.0),
            };
            Ok(vec![u16::from(on)])
        }
        (_, Some(codec)) => {
            let v = match (sf, value.as_f64()) {
                (Some(e), Some(x)) => Value::Float(apply_power_of_ten(x, e.saturating_neg())),
                _ => value.clone(),
            };
            codec.encode(&v).map_err(|e| err(e.to_string()))
        }
        (_, None) => Err(err("the register has no codec".to_owned())),
    }
}

/// Every register of `map` (readable or not) with its example value encoded as words (the
/// "not available" words for `example: null`).
/// Registers whose example cannot be encoded are left out (loading guarantees there are none).
pub fn example_words(map: &DeviceMap) -> Vec<(&Register, Vec<u16>)> {
    map.registers
        .iter()
        .filter_map(|r| {
            if let Some(words) = &r.example_words {
                return Some((r, words.clone()));
            }
            let sf = match &r.scale {
                Scale::PowerOfTen(name) => Some(map.register(name)?.example.as_i64()?),
                Scale::Factor(_) => None,
            };
            encode_value(r, &r.example, sf).ok().map(|w| (r, w))
        })
        .collect()
}
