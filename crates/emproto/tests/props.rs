//! Property tests: no input makes the parser panic, and whatever parses survives encode →
//! parse unchanged (the same check the cargo-fuzz target runs).

use emproto::wire::{
    Command, Datagram, Datagrams, Password, Payload, Serial, check_round_trip, parse_packet,
};
use proptest::prelude::*;

/// Wraps `payload` in a valid envelope for `command`.
fn frame(command: u16, payload: &[u8]) -> Vec<u8> {
    Datagram::from_charger(
        Serial([1, 2, 3, 4, 5, 6, 7, 8]),
        Payload::Raw {
            command: Command(command),
            bytes: payload.to_vec(),
        },
    )
    .encode()
    .expect("short payloads encode")
}

/// Every command id this crate knows, plus a few it does not.
fn any_command() -> impl Strategy<Value = u16> {
    prop_oneof![
        proptest::sample::select(Command::KNOWN.iter().map(|c| c.0).collect::<Vec<_>>()),
        any::<u16>(),
    ]
}

/// Payload lengths the layouts care about, and anything else.
fn any_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..8),
        (proptest::sample::select(vec![
            17usize, 25, 33, 35, 36, 37, 47, 54, 64, 70, 74, 75, 97, 118, 119, 151, 160
        ]))
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n)),
        proptest::collection::vec(any::<u8>(), 0..400),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let all = parse_packet(&bytes);
        prop_assert!(all.len() <= bytes.len() / 25 + 1);
        check_round_trip(&bytes).map_err(|m| TestCaseError::fail(format!("{m:?}")))?;
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_magic_never_panic(
        len in 0u16..700,
        rest in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = vec![0x06, 0x01];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&rest);
        let _ = parse_packet(&bytes);
        check_round_trip(&bytes).map_err(|m| TestCaseError::fail(format!("{m:?}")))?;
    }

    #[test]
    fn any_payload_under_any_command_round_trips(
        command in any_command(),
        payload in any_payload(),
        second in any_payload(),
    ) {
        let packet = [frame(command, &payload), frame(0x0003, &[]), frame(command, &second)].concat();
        let all = parse_packet(&packet);
        // The envelope is sound, so every datagram is reported, parsed or not.
        prop_assert_eq!(all.len(), 3);
        prop_assert!(all[1].is_ok());
        let n = check_round_trip(&packet).map_err(|m| TestCaseError::fail(format!("{m:?}")))?;
        prop_assert_eq!(n, all.iter().filter(|r| r.is_ok()).count());
        // An unknown command is always kept raw.
        if !Command(command).is_known() {
            let raw = matches!(&all[0], Ok(Datagram { payload: Payload::Raw { .. }, .. }));
            prop_assert!(raw, "unknown command {:#06x} was not kept raw", command);
        }
    }

    #[test]
    fn app_datagrams_keep_their_password(command in any_command(), payload in any_payload()) {
        let d = Datagram::to_charger(
            Serial([9; 8]),
            Password::new("654321").expect("six digits"),
            Payload::Raw { command: Command(command), bytes: payload },
        );
        let bytes = d.encode().expect("encodes");
        if let Some(Ok(back)) = Datagrams::new(&bytes).next() {
            prop_assert_eq!(back.password, d.password);
            prop_assert_eq!(back.serial, d.serial);
        }
    }
}
