//! Property tests: decoders are total (no panic on any words), and encode inverts decode for
//! every type and order, with and without scale and offset.

use modbus_core::{Codec, DataType, DecodeError, Order, Sentinel, Value};
use proptest::prelude::*;

fn any_type() -> impl Strategy<Value = DataType> {
    prop::sample::select(DataType::ALL.to_vec())
}

fn any_order() -> impl Strategy<Value = Order> {
    prop::sample::select(Order::ALL.to_vec())
}

fn any_sentinel() -> impl Strategy<Value = Sentinel> {
    prop_oneof![
        Just(Sentinel::AllOnes),
        Just(Sentinel::Nan),
        any::<u64>().prop_map(Sentinel::Raw),
        (0u64..=0xFFFF).prop_map(Sentinel::Raw),
    ]
}

/// A codec of any type and order, with any (valid) scale, offset and sentinels.
fn any_codec() -> impl Strategy<Value = Codec> {
    (
        any_type(),
        any_order(),
        1u16..=12,
        prop::option::of((-1e6f64..1e6, -1e3f64..1e3)),
        prop::collection::vec(any_sentinel(), 0..3),
    )
        .prop_map(|(ty, order, count, scaling, sentinels)| {
            let count = ty.fixed_registers().unwrap_or(count);
            let mut c = Codec::with_count(ty, Some(count), order).expect("valid count");
            if let Some((scale, offset)) = scaling
                && let Ok(scaled) = c.clone().scaled(scale, offset)
            {
                c = scaled;
            }
            for s in sentinels {
                if let Ok(next) = c.clone().missing_when(s) {
                    c = next;
                }
            }
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary words of the right length decode to a value or None; only text can fail.
    #[test]
    fn decode_is_total(c in any_codec(), seed in prop::collection::vec(any::<u16>(), 12)) {
        let words = &seed[..usize::from(c.registers())];
        match c.decode(words) {
            Ok(Some(v)) => {
                let kind_ok = match c.data_type() {
                    DataType::String | DataType::String1 => matches!(v, Value::Text(_)),
                    DataType::Bits16 | DataType::Bits32 => matches!(v, Value::Flags(_)),
                    DataType::Float32 | DataType::Float64 => matches!(v, Value::Float(f) if !f.is_nan()),
                    _ if c.is_unscaled() => v.is_integer(),
                    _ => matches!(v, Value::Float(_)),
                };
                prop_assert!(kind_ok, "{:?} from {:?}", v, c);
            }
            Ok(None) => {}
            Err(DecodeError::InvalidText { .. }) => prop_assert!(c.data_type().is_text()),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// Words of any length never panic: wrong lengths are a typed error.
    #[test]
    fn any_length_is_handled(c in any_codec(), words in prop::collection::vec(any::<u16>(), 0..16)) {
        let result = c.decode(&words);
        if words.len() != usize::from(c.registers()) {
            let is_length_error = matches!(result, Err(DecodeError::Length { .. }));
            prop_assert!(is_length_error);
        }
    }

    /// Unscaled numbers and bit fields: decode then encode gives back the same words (floats
    /// other than NaN, which is missing).
    #[test]
    fn numbers_round_trip_exactly(
        ty in any_type().prop_filter("fixed width", |t| !t.is_text()),
        order in any_order(),
        seed in prop::collection::vec(any::<u16>(), 4),
    ) {
        let c = Codec::new(ty, order).unwrap();
        let words = &seed[..usize::from(c.registers())];
        if let Some(value) = c.decode(words).unwrap() {
            prop_assert_eq!(c.encode(&value).unwrap(), words);
        } else {
            prop_assert!(ty.is_float());
        }
    }

    /// Scaled integers (up to 32 bits): the decoded float encodes back to the same raw value.
    #[test]
    fn scaled_integers_round_trip(
        ty in prop::sample::select(vec![DataType::Int16, DataType::UInt16, DataType::Int32, DataType::UInt32]),
        order in any_order(),
        scale in prop::sample::select(vec![0.1, 0.01, 0.001, 0.5, 2.0, 10.0, 0.25, 1.0 / 3.0, -0.1]),
        offset in prop::sample::select(vec![0.0, -40.0, 273.15, -273.15, 0.5]),
        seed in prop::collection::vec(any::<u16>(), 2),
    ) {
        let c = Codec::new(ty, order).unwrap().scaled(scale, offset).unwrap();
        let words = &seed[..usize::from(c.registers())];
        let value = c.decode(words).unwrap().unwrap();
        prop_assert!(matches!(value, Value::Float(_)));
        prop_assert_eq!(c.encode(&value).unwrap(), words);
    }

    /// Exact integers in range always encode; one past the range never does.
    #[test]
    fn integer_range_is_enforced(
        ty in prop::sample::select(vec![DataType::Int16, DataType::UInt16, DataType::Int32, DataType::UInt32, DataType::Int64, DataType::UInt64]),
        order in any_order(),
        v in any::<i128>(),
    ) {
        let (min, max): (i128, i128) = match ty {
            DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            DataType::UInt16 => (0, u16::MAX.into()),
            DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            DataType::UInt32 => (0, u32::MAX.into()),
            DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
            _ => (0, u64::MAX.into()),
        };
        let c = Codec::new(ty, order).unwrap();
        let v = v.clamp(min - 1, max + 1);
        let value = if v < 0 { i64::try_from(v).map(Value::Int) } else { u64::try_from(v).map(Value::UInt) };
        let Ok(value) = value else { return Ok(()) };
        let encoded = c.encode(&value);
        if (min..=max).contains(&v) {
            let words = encoded.unwrap();
            let back = c.decode(&words).unwrap().unwrap();
            prop_assert_eq!(back.as_u64().map(i128::from).or(back.as_i64().map(i128::from)), Some(v));
        } else {
            prop_assert!(encoded.is_err());
        }
    }

    /// Text without NUL that fits encodes and decodes back, minus trailing spaces.
    #[test]
    fn text_round_trips(
        ty in prop::sample::select(vec![DataType::String, DataType::String1]),
        order in any_order(),
        s in "[ -~]{0,16}",
    ) {
        let c = Codec::with_count(ty, Some(8), order).unwrap();
        match c.encode(&Value::from(s.as_str())) {
            Ok(words) => {
                let back = c.decode(&words).unwrap().unwrap();
                prop_assert_eq!(back, Value::from(s.trim_end_matches(' ')));
            }
            Err(_) => prop_assert!(s.len() > ty.max_chars(8).unwrap()),
        }
    }

    /// Any string of any length is either encoded or refused, never a panic, and what is
    /// encoded decodes (text may be cut at a NUL only if it had one, which is refused).
    #[test]
    fn any_text_is_handled(ty in prop::sample::select(vec![DataType::String, DataType::String1]), s in ".{0,20}") {
        let c = Codec::with_count(ty, Some(6), Order::Abcd).unwrap();
        if let Ok(words) = c.encode(&Value::from(s.as_str())) {
            let back = c.decode(&words).unwrap().unwrap();
            let expected = s.trim_end_matches(' ');
            let back_text = back.as_str().unwrap();
            // A 0xFF byte cannot occur in UTF-8, and U+FFFF trims like padding in string1.
            prop_assert!(expected.starts_with(back_text), "{:?} vs {:?}", back_text, expected);
        }
    }
}
