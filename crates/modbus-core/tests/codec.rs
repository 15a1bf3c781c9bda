//! Known-answer tests for the codecs: every type in every order, scale and offset both ways,
//! sentinels, strings and the errors encoding must give.

use modbus_core::{
    Codec, CodecError, DataType, DecodeError, EncodeError, Order, ParseError, Sentinel, Table,
    Value,
};

fn codec(ty: DataType, order: Order) -> Codec {
    Codec::new(ty, order).expect("fixed-width codec")
}

fn text(ty: DataType, count: u16, order: Order) -> Codec {
    Codec::with_count(ty, Some(count), order).expect("text codec")
}

/// The big-endian value `0x0102_0304` in each order, as wire words.
const U32_WIRE: [(Order, [u16; 2]); 4] = [
    (Order::Abcd, [0x0102, 0x0304]),
    (Order::Cdab, [0x0304, 0x0102]),
    (Order::Badc, [0x0201, 0x0403]),
    (Order::Dcba, [0x0403, 0x0201]),
];

#[test]
fn u32_in_every_order() {
    for (order, wire) in U32_WIRE {
        let c = codec(DataType::UInt32, order);
        assert_eq!(
            c.decode(&wire).unwrap(),
            Some(Value::UInt(0x0102_0304)),
            "{order}"
        );
        assert_eq!(
            c.encode(&Value::UInt(0x0102_0304)).unwrap(),
            wire,
            "{order}"
        );
    }
}

#[test]
fn u64_in_every_order() {
    let value = 0x0102_0304_0506_0708_u64;
    let wire = [
        (Order::Abcd, [0x0102, 0x0304, 0x0506, 0x0708]),
        (Order::Cdab, [0x0708, 0x0506, 0x0304, 0x0102]),
        (Order::Badc, [0x0201, 0x0403, 0x0605, 0x0807]),
        (Order::Dcba, [0x0807, 0x0605, 0x0403, 0x0201]),
    ];
    for (order, words) in wire {
        for ty in [DataType::UInt64, DataType::Int64] {
            let c = codec(ty, order);
            let decoded = c.decode(&words).unwrap().unwrap();
            assert_eq!(decoded.as_u64(), Some(value), "{ty} {order}");
            assert_eq!(c.encode(&decoded).unwrap(), words, "{ty} {order}");
        }
    }
}

#[test]
fn sixteen_bit_types_only_care_about_bytes() {
    for order in Order::ALL {
        let c = codec(DataType::Int16, order);
        let wire = if order.swaps_bytes() { 0x18FC } else { 0xFC18 };
        assert_eq!(
            c.decode(&[wire]).unwrap(),
            Some(Value::Int(-1000)),
            "{order}"
        );
        assert_eq!(c.encode(&Value::Int(-1000)).unwrap(), [wire]);
        let c = codec(DataType::UInt16, order);
        assert_eq!(c.decode(&[wire]).unwrap(), Some(Value::UInt(0xFC18)));
    }
}

/// The table the existing Python tool's behaviour gives for float32 words 0x4148 0x0000.
#[test]
fn float32_matches_the_seed_tool_table() {
    let words = [0x4148, 0x0000];
    let abcd = codec(DataType::Float32, Order::Abcd)
        .decode(&words)
        .unwrap();
    assert_eq!(abcd, Some(Value::Float(12.5)));
    let badc = codec(DataType::Float32, Order::Badc)
        .decode(&words)
        .unwrap();
    assert_eq!(badc, Some(Value::Float(197_632.0)));
    let cdab = codec(DataType::Float32, Order::Cdab)
        .decode(&words)
        .unwrap();
    let Some(Value::Float(v)) = cdab else {
        panic!("expected a float, got {cdab:?}")
    };
    assert_eq!(v, f64::from(f32::from_bits(0x0000_4148)));
    assert!((v / 2.3e-41 - 1.0).abs() < 0.02, "{v}");
    // And the 16-bit word 0x0102: big gives 0x0102, little 0x0201.
    let u = codec(DataType::UInt16, Order::Abcd)
        .decode(&[0x0102])
        .unwrap();
    assert_eq!(u, Some(Value::UInt(0x0102)));
    let u = codec(DataType::UInt16, Order::Dcba)
        .decode(&[0x0102])
        .unwrap();
    assert_eq!(u, Some(Value::UInt(0x0201)));
}

#[test]
fn float64_alfen_energy() {
    let c = codec(DataType::Float64, Order::Abcd);
    let words = c.encode(&Value::Float(1_234_567.25)).unwrap();
    assert_eq!(words, [0x4132, 0xD687, 0x4000, 0x0000]);
    assert_eq!(c.decode(&words).unwrap(), Some(Value::Float(1_234_567.25)));
}

#[test]
fn signed_types_sign_extend() {
    assert_eq!(
        codec(DataType::Int32, Order::Abcd)
            .decode(&[0xFFFF, 0xFFFE])
            .unwrap(),
        Some(Value::Int(-2))
    );
    assert_eq!(
        codec(DataType::Int64, Order::Abcd)
            .decode(&[0x8000, 0, 0, 0])
            .unwrap(),
        Some(Value::Int(i64::MIN))
    );
    assert_eq!(
        codec(DataType::UInt64, Order::Abcd)
            .decode(&[0xFFFF; 4])
            .unwrap(),
        Some(Value::UInt(u64::MAX))
    );
}

#[test]
fn scale_and_offset_both_ways() {
    // Vestel meter reading: UINT32 in 0.1 kWh.
    let c = codec(DataType::UInt32, Order::Abcd)
        .scaled(0.1, 0.0)
        .unwrap();
    assert_eq!(c.decode(&[0, 2301]).unwrap(), Some(Value::Float(230.1)));
    assert_eq!(c.encode(&Value::Float(230.1)).unwrap(), [0, 2301]);
    assert_eq!(c.encode(&Value::Int(230)).unwrap(), [0, 2300]);
    // Alfen uptime: UINT64 ms shown in s.
    let c = codec(DataType::UInt64, Order::Abcd)
        .scaled(0.001, 0.0)
        .unwrap();
    assert_eq!(
        c.decode(&[0, 0, 0x0001, 0x86A0]).unwrap(),
        Some(Value::Float(100.0))
    );
    // A temperature in 0.1 K with an offset to degrees Celsius.
    let c = codec(DataType::Int16, Order::Abcd)
        .scaled(0.1, -273.15)
        .unwrap();
    assert_eq!(c.decode(&[2932]).unwrap(), Some(Value::Float(20.05)));
    assert_eq!(c.encode(&Value::Float(20.05)).unwrap(), [2932]);
    // A scale above one, on a float.
    let c = codec(DataType::Float32, Order::Cdab)
        .scaled(1000.0, 0.0)
        .unwrap();
    assert_eq!(c.decode(&[0, 0x3FC0]).unwrap(), Some(Value::Float(1500.0)));
    assert_eq!(c.encode(&Value::Int(1500)).unwrap(), [0, 0x3FC0]);
}

#[test]
fn unscaled_integers_stay_exact() {
    let c = codec(DataType::UInt64, Order::Abcd);
    assert_eq!(
        c.encode(&Value::UInt(u64::MAX - 1)).unwrap(),
        [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE]
    );
    assert_eq!(
        c.decode(&[0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE]).unwrap(),
        Some(Value::UInt(u64::MAX - 1))
    );
    let c = codec(DataType::Int64, Order::Dcba);
    let words = c.encode(&Value::Int(i64::MIN + 1)).unwrap();
    assert_eq!(c.decode(&words).unwrap(), Some(Value::Int(i64::MIN + 1)));
}

#[test]
fn encode_refuses_values_that_do_not_fit() {
    let u16c = codec(DataType::UInt16, Order::Abcd);
    assert!(matches!(
        u16c.encode(&Value::UInt(65_536)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        u16c.encode(&Value::Int(-1)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        u16c.encode(&Value::Float(1.5)),
        Err(EncodeError::NotWhole { .. })
    ));
    assert!(matches!(
        u16c.encode(&Value::Float(f64::NAN)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        u16c.encode(&Value::from("12")),
        Err(EncodeError::WrongKind { .. })
    ));
    let i16c = codec(DataType::Int16, Order::Abcd);
    assert!(matches!(
        i16c.encode(&Value::Int(-32_769)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert_eq!(i16c.encode(&Value::Int(-32_768)).unwrap(), [0x8000]);
    let scaled = codec(DataType::UInt16, Order::Abcd)
        .scaled(0.1, 0.0)
        .unwrap();
    assert!(matches!(
        scaled.encode(&Value::Float(6553.6)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert_eq!(scaled.encode(&Value::Float(6553.5)).unwrap(), [65_535]);
    assert!(matches!(
        scaled.encode(&Value::Float(230.15)),
        Err(EncodeError::NotWhole { .. })
    ));
    let u64c = codec(DataType::UInt64, Order::Abcd)
        .scaled(2.0, 0.0)
        .unwrap();
    assert!(matches!(
        u64c.encode(&Value::Float(4e19)),
        Err(EncodeError::OutOfRange { .. })
    ));
    let f32c = codec(DataType::Float32, Order::Abcd);
    assert!(matches!(
        f32c.encode(&Value::Float(1e39)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        f32c.encode(&Value::Bool(true)),
        Err(EncodeError::WrongKind { .. })
    ));
    let mut out = [7u16; 2];
    assert!(f32c.encode_into(&Value::Float(1e39), &mut out).is_err());
    assert_eq!(out, [7, 7], "nothing is written on error");
    let mut short = [0u16; 1];
    assert!(matches!(
        f32c.encode_into(&Value::Float(1.0), &mut short),
        Err(EncodeError::Length { .. })
    ));
}

#[test]
fn nan_and_sentinels_are_missing_not_zero() {
    // Alfen: unavailable registers read 0xFFFF, a NaN for floats.
    let f = codec(DataType::Float32, Order::Abcd);
    assert_eq!(f.decode(&[0xFFFF, 0xFFFF]).unwrap(), None);
    assert_eq!(f.decode(&[0x7FC0, 0x0000]).unwrap(), None);
    assert_eq!(f.decode(&[0, 0]).unwrap(), Some(Value::Float(0.0)));
    let d = codec(DataType::Float64, Order::Abcd);
    assert_eq!(d.decode(&[0xFFFF; 4]).unwrap(), None);
    // Alfen: a uint16 reads 65535 when unavailable, unless the map says so.
    let u = codec(DataType::UInt16, Order::Abcd);
    assert_eq!(u.decode(&[0xFFFF]).unwrap(), Some(Value::UInt(65_535)));
    let u = u.missing_when(Sentinel::AllOnes).unwrap();
    assert_eq!(u.decode(&[0xFFFF]).unwrap(), None);
    assert_eq!(u.decode(&[0]).unwrap(), Some(Value::UInt(0)));
    // SunSpec: int16 0x8000, given as hex or as a negative number, before scaling.
    for sentinel in ["0x8000", "-32768"] {
        let s: Sentinel = sentinel.parse().unwrap();
        let i = codec(DataType::Int16, Order::Abcd)
            .scaled(0.01, 0.0)
            .unwrap()
            .missing_when(s)
            .unwrap();
        assert_eq!(i.decode(&[0x8000]).unwrap(), None, "{sentinel}");
        assert_eq!(i.decode(&[0x8001]).unwrap(), Some(Value::Float(-327.67)));
    }
    // int32 0x80000000 in swapped words.
    let i = codec(DataType::Int32, Order::Cdab)
        .missing_when(Sentinel::Raw(0x8000_0000))
        .unwrap();
    assert_eq!(i.decode(&[0x0000, 0x8000]).unwrap(), None);
    assert_eq!(
        i.decode(&[0x8000, 0x0000]).unwrap(),
        Some(Value::Int(0x8000))
    );
    // acc32: 0 means not accumulated.
    let acc = codec(DataType::UInt32, Order::Abcd)
        .missing_when(Sentinel::Raw(0))
        .unwrap();
    assert_eq!(acc.decode(&[0, 0]).unwrap(), None);
    // Strings of 0xFFFF are missing when the map says so, empty otherwise.
    let s = text(DataType::String, 4, Order::Abcd);
    assert_eq!(s.decode(&[0xFFFF; 4]).unwrap(), Some(Value::from("")));
    let s = s.missing_when(Sentinel::AllOnes).unwrap();
    assert_eq!(s.decode(&[0xFFFF; 4]).unwrap(), None);
}

#[test]
fn sentinels_that_cannot_match_are_refused() {
    let refused = [
        (DataType::UInt16, Sentinel::Raw(0x1_0000)),
        (DataType::UInt16, Sentinel::Raw(u64::MAX)), // -1 is not a uint16
        (DataType::Int16, Sentinel::Raw(0xFFFF_FFFF)),
        (DataType::UInt32, Sentinel::Nan),
        (DataType::String, Sentinel::Raw(0)),
    ];
    for (ty, sentinel) in refused {
        let c = Codec::with_count(ty, ty.fixed_registers().or(Some(2)), Order::Abcd).unwrap();
        assert!(
            matches!(
                c.missing_when(sentinel),
                Err(CodecError::SentinelDoesNotFit { .. })
            ),
            "{ty} {sentinel}"
        );
    }
    let i16c = codec(DataType::Int16, Order::Abcd)
        .missing_when(Sentinel::Raw(u64::MAX))
        .unwrap();
    assert_eq!(i16c.decode(&[0xFFFF]).unwrap(), None, "-1 as an int16");
}

#[test]
fn strings_two_chars_per_register() {
    let c = text(DataType::String, 17, Order::Abcd);
    let mut words = [0u16; 17];
    words[..4].copy_from_slice(&[0x414C, 0x465F, 0x3130, 0x3030]);
    assert_eq!(c.decode(&words).unwrap(), Some(Value::from("ALF_1000")));
    // Trailing space and 0xFF padding go; leading and inner spaces stay.
    let c = text(DataType::String, 4, Order::Abcd);
    assert_eq!(
        c.decode(&[0x2041, 0x2042, 0x2020, 0xFFFF]).unwrap(),
        Some(Value::from(" A B"))
    );
    // Text after a NUL terminator is ignored.
    assert_eq!(
        c.decode(&[0x4142, 0x0043, 0x4445, 0x4647]).unwrap(),
        Some(Value::from("AB"))
    );
    // Byte-swapped strings.
    let c = text(DataType::String, 2, Order::Badc);
    assert_eq!(
        c.decode(&[0x4241, 0x0043]).unwrap(),
        Some(Value::from("ABC"))
    );
    assert_eq!(c.encode(&Value::from("ABC")).unwrap(), [0x4241, 0x0043]);
}

#[test]
fn strings_one_char_per_register() {
    // Vestel: one character per register, high byte 0.
    let c = text(DataType::String1, 8, Order::Abcd);
    let words = c.encode(&Value::from("EVC04")).unwrap();
    assert_eq!(words, [0x45, 0x56, 0x43, 0x30, 0x34, 0, 0, 0]);
    assert_eq!(c.decode(&words).unwrap(), Some(Value::from("EVC04")));
    assert_eq!(
        c.decode(&[0x41, 0x20, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF])
            .unwrap(),
        Some(Value::from("A"))
    );
    assert_eq!(
        c.encode(&Value::from("é")).unwrap()[0],
        0x00E9,
        "UTF-16 code unit"
    );
}

#[test]
fn invalid_text_is_a_typed_error() {
    let c = text(DataType::String, 2, Order::Abcd);
    assert_eq!(
        c.decode(&[0x41C3, 0x2841]),
        Err(DecodeError::InvalidText {
            data_type: DataType::String,
            position: 1
        })
    );
    let c = text(DataType::String1, 2, Order::Abcd);
    assert_eq!(
        c.decode(&[0x0041, 0xD800]),
        Err(DecodeError::InvalidText {
            data_type: DataType::String1,
            position: 1
        })
    );
}

#[test]
fn text_encoding_errors() {
    let c = text(DataType::String, 2, Order::Abcd);
    assert!(matches!(
        c.encode(&Value::from("ABCDE")),
        Err(EncodeError::TextTooLong { len: 5, max: 4, .. })
    ));
    assert!(matches!(
        c.encode(&Value::from("A\0B")),
        Err(EncodeError::NulInText { .. })
    ));
    assert!(matches!(
        c.encode(&Value::Int(1)),
        Err(EncodeError::WrongKind { .. })
    ));
    assert_eq!(c.encode(&Value::from("ABCD")).unwrap(), [0x4142, 0x4344]);
}

#[test]
fn bit_fields() {
    let c = codec(DataType::Bits16, Order::Abcd);
    let v = c.decode(&[0b1011]).unwrap().unwrap();
    assert_eq!(v, Value::Flags(0b1011));
    assert!(v.flag(0) && v.flag(1) && !v.flag(2) && v.flag(3));
    assert_eq!(c.encode(&v).unwrap(), [0b1011]);
    assert!(matches!(
        c.encode(&Value::Flags(0x1_0000)),
        Err(EncodeError::OutOfRange { .. })
    ));
    let c = codec(DataType::Bits32, Order::Cdab);
    assert_eq!(
        c.decode(&[0x0001, 0x8000]).unwrap(),
        Some(Value::Flags(0x8000_0001))
    );
    assert_eq!(
        c.encode(&Value::Flags(0x8000_0001)).unwrap(),
        [0x0001, 0x8000]
    );
}

#[test]
fn wrong_word_count_is_an_error() {
    let c = codec(DataType::Float32, Order::Abcd);
    assert_eq!(
        c.decode(&[1, 2, 3]),
        Err(DecodeError::Length {
            data_type: DataType::Float32,
            expected: 2,
            got: 3
        })
    );
    assert!(c.decode(&[]).is_err());
}

#[test]
fn codec_construction_errors() {
    assert!(matches!(
        Codec::with_count(DataType::Float32, Some(4), Order::Abcd),
        Err(CodecError::CountMismatch {
            expected: 2,
            declared: 4,
            ..
        })
    ));
    assert!(matches!(
        Codec::new(DataType::String, Order::Abcd),
        Err(CodecError::MissingCount { .. })
    ));
    assert!(matches!(
        Codec::with_count(DataType::String1, Some(0), Order::Abcd),
        Err(CodecError::ZeroCount { .. })
    ));
    let u = codec(DataType::UInt16, Order::Abcd);
    assert!(matches!(
        u.clone().scaled(0.0, 0.0),
        Err(CodecError::BadScale { .. })
    ));
    assert!(matches!(
        u.clone().scaled(f64::NAN, 0.0),
        Err(CodecError::BadScale { .. })
    ));
    assert!(matches!(
        u.scaled(1.0, f64::INFINITY),
        Err(CodecError::BadOffset { .. })
    ));
    assert!(matches!(
        text(DataType::String, 2, Order::Abcd).scaled(0.1, 0.0),
        Err(CodecError::ScaleOnNonNumeric { .. })
    ));
    assert!(
        codec(DataType::Bits16, Order::Abcd)
            .scaled(1.0, 0.0)
            .is_ok()
    );
}

#[test]
fn names_parse_and_print() {
    for ty in DataType::ALL {
        assert_eq!(ty.to_string().parse::<DataType>().unwrap(), ty);
    }
    for table in Table::ALL {
        assert_eq!(table.to_string().parse::<Table>().unwrap(), table);
    }
    for order in Order::ALL {
        assert_eq!(order.to_string().parse::<Order>().unwrap(), order);
        assert_eq!(
            Order::from_swaps(order.swaps_bytes(), order.swaps_words()),
            order
        );
    }
    let aliases = [
        ("big", Order::Abcd),
        ("Big Endian", Order::Abcd),
        ("swapped_words", Order::Cdab),
        ("word", Order::Cdab),
        ("byte", Order::Badc),
        ("word_byte", Order::Dcba),
        ("little", Order::Dcba),
        ("LE", Order::Dcba),
    ];
    for (name, order) in aliases {
        assert_eq!(name.parse::<Order>().unwrap(), order, "{name}");
    }
    assert_eq!("ACC32".parse::<DataType>().unwrap(), DataType::UInt32);
    assert_eq!("double".parse::<DataType>().unwrap(), DataType::Float64);
    assert_eq!("IR".parse::<Table>().unwrap(), Table::Input);
    assert_eq!("discrete input".parse::<Table>().unwrap(), Table::Discrete);
}

#[test]
fn parse_errors_list_what_is_allowed() {
    let err: ParseError = "float16".parse::<DataType>().unwrap_err();
    assert_eq!(err.input(), "float16");
    let message = err.to_string();
    assert!(message.starts_with("unknown data type `float16`; expected one of: int16"));
    assert!(message.contains("string1 (1 char/register)"), "{message}");
    let err = "middle".parse::<Order>().unwrap_err().to_string();
    assert!(err.contains("ABCD") && err.contains("word_byte"), "{err}");
    let err = "register".parse::<Table>().unwrap_err().to_string();
    assert!(err.contains("holding") && err.contains("discrete"), "{err}");
    assert!("0xZZ".parse::<Sentinel>().is_err());
}
