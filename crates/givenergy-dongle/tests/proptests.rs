//! Property tests: no panic on any input, and encode/decode/framer agree on any frames.

use givenergy_dongle::{
    ErrorResponse, Frame, Framer, Heartbeat, MARKER, NullFrame, RawFrame, ReadFunction,
    ReadRequest, ReadResponse, Serial, WriteRequest, WriteResponse, fuzzing::check_framer,
};
use proptest::prelude::*;

fn serial() -> impl Strategy<Value = Serial> {
    prop::array::uniform10(0x20_u8..0x7f).prop_map(Serial::from_bytes)
}

fn read_function() -> impl Strategy<Value = ReadFunction> {
    prop_oneof![
        Just(ReadFunction::Holding),
        Just(ReadFunction::Input),
        Just(ReadFunction::MeterProduct)
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (serial(), any::<u8>()).prop_map(|(adapter, adapter_type)| Frame::Heartbeat(Heartbeat {
            adapter,
            adapter_type
        })),
        (
            serial(),
            any::<u8>(),
            read_function(),
            0_u16..65000,
            1_u16..=60
        )
            .prop_map(|(adapter, device, function, base, count)| {
                Frame::ReadRequest(ReadRequest {
                    adapter,
                    device,
                    function,
                    base,
                    count,
                })
            }),
        (serial(), any::<u8>(), any::<u16>(), any::<u16>()).prop_map(
            |(adapter, device, register, value)| {
                Frame::WriteRequest(WriteRequest {
                    adapter,
                    device,
                    register,
                    value,
                })
            }
        ),
        (
            serial(),
            1_u8..=255,
            read_function(),
            serial(),
            0_u16..65000,
            prop::collection::vec(any::<u16>(), 1..=60)
        )
            .prop_map(|(adapter, device, function, inverter, base, values)| {
                Frame::ReadResponse(ReadResponse {
                    adapter,
                    device,
                    function,
                    inverter,
                    base,
                    values,
                })
            }),
        (serial(), any::<u8>(), serial(), any::<u16>(), any::<u16>()).prop_map(
            |(adapter, device, inverter, register, value)| {
                Frame::WriteResponse(WriteResponse {
                    adapter,
                    device,
                    inverter,
                    register,
                    value,
                })
            }
        ),
        (
            serial(),
            any::<u8>(),
            prop_oneof![Just(3_u8), Just(4), Just(6)],
            serial(),
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(adapter, device, function, inverter, base, count)| {
                Frame::ErrorResponse(ErrorResponse {
                    adapter,
                    device,
                    function,
                    inverter,
                    base,
                    count,
                })
            }),
        (serial(), any::<u8>())
            .prop_map(|(adapter, device)| Frame::Null(NullFrame { adapter, device })),
    ]
}

/// Garbage that cannot contain the marker.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no marker byte", |b| *b != 0x59),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn framer_never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = check_framer(&data);
    }

    #[test]
    fn framer_never_panics_on_marker_rich_bytes(
        pieces in prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..20),
            Just(MARKER.to_vec()),
            frame().prop_map(|f| f.encode().unwrap_or_default()),
        ], 0..30),
        chunk in 1_u8..=255,
    ) {
        let mut data = vec![chunk];
        data.extend(pieces.concat());
        let _ = check_framer(&data);
    }

    #[test]
    fn decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Frame::decode(&data);
        let _ = RawFrame::new(data);
    }

    #[test]
    fn decode_never_panics_on_plausible_headers(
        length in 0_u16..320, unit in 0_u8..3, main in 0_u8..4,
        body in prop::collection::vec(any::<u8>(), 0..320),
    ) {
        let mut data = MARKER.to_vec();
        data.extend_from_slice(&length.to_be_bytes());
        data.extend([unit, main]);
        data.extend(body.iter().take(usize::from(length).saturating_sub(2)));
        let _ = Frame::decode(&data);
    }

    #[test]
    fn encode_then_decode_is_identity(frame in frame()) {
        let bytes = frame.encode().expect("generated frames are encodable");
        prop_assert_eq!(Frame::decode(&bytes), Ok(frame));
    }

    #[test]
    fn framer_recovers_every_frame_through_garbage_and_any_split(
        items in prop::collection::vec((garbage(), frame()), 1..12),
        splits in prop::collection::vec(1_usize..200, 1..50),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (junk, frame) in &items {
            stream.extend_from_slice(junk);
            let bytes = frame.encode().expect("encodable");
            stream.extend_from_slice(&bytes);
            expected.push(frame.clone());
        }
        let mut framer = Framer::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        let mut sizes = splits.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).min(rest.len());
            let (piece, tail) = rest.split_at(n);
            framer.push(piece);
            rest = tail;
            for raw in framer.by_ref() {
                got.push(raw.decode().expect("a generated frame decodes"));
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(framer.buffered(), 0);
    }
}
