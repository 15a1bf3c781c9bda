//! Data-driven tests over real captured frames (tests/data, copied from the project's shared
//! golden data; origin and licence in tests/data/README.md).

use givenergy_dongle::{Frame, FrameError, Framer, RawFrame, ReadFunction};
use serde_yaml::Value;

const FRAMES_TSV: &str = include_str!("data/frames.tsv");
const DECODED_YAML: &str = include_str!("data/decoded.yaml");

struct Row {
    id: String,
    direction: String,
    bytes: Vec<u8>,
    kind: String,
    device: Option<u8>,
    function: Option<u8>,
    base: Option<u16>,
    count: Option<u16>,
    crc_ok: Option<bool>,
    note: String,
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn byte_field(s: &str) -> Option<u8> {
    s.strip_prefix("0x")
        .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
}

fn rows() -> Vec<Row> {
    let mut lines = FRAMES_TSV.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    assert_eq!(header.len(), 11);
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            assert_eq!(c.len(), 11, "row {line}");
            Row {
                id: c[0].into(),
                direction: c[2].into(),
                bytes: hex(c[3]),
                kind: c[4].into(),
                device: byte_field(c[5]),
                function: byte_field(c[6]),
                base: c[7].parse().ok(),
                count: c[8].parse().ok(),
                crc_ok: c[9].parse().ok(),
                note: c[10].into(),
            }
        })
        .collect()
}

#[test]
fn every_frame_parses_and_crc_verdicts_agree() {
    let rows = rows();
    assert_eq!(rows.len(), 164);
    let mut checked = 0;
    for row in rows.iter().filter(|r| r.kind != "stream_chunk") {
        let id = &row.id;
        let raw = RawFrame::new(row.bytes.clone()).unwrap_or_else(|e| panic!("{id}: {e}"));
        // The CRC verdict agrees with the table (heartbeats have none).
        assert_eq!(raw.crc().map(|c| c.ok()), row.crc_ok, "{id}: CRC verdict");
        let decoded = raw.decode();
        match (row.kind.as_str(), decoded) {
            ("read_request", Ok(Frame::ReadRequest(r))) => {
                assert_eq!(row.direction, "to_dongle");
                assert_eq!(Some(r.device), row.device, "{id}");
                assert_eq!(Some(r.function.code()), row.function, "{id}");
                assert_eq!((Some(r.base), Some(r.count)), (row.base, row.count), "{id}");
            }
            ("read_response", Ok(Frame::ReadResponse(r))) => {
                assert_eq!(row.crc_ok, Some(true), "{id}");
                assert_eq!(Some(r.device), row.device, "{id}");
                assert_eq!(Some(r.function.code()), row.function, "{id}");
                assert_eq!(
                    (Some(r.base), Some(r.count())),
                    (row.base, row.count),
                    "{id}"
                );
            }
            (
                "read_response",
                Err(FrameError::Crc {
                    device,
                    function,
                    wire,
                    computed,
                }),
            ) => {
                // A bad frame is reported, never handed on.
                assert_eq!(row.crc_ok, Some(false), "{id}");
                assert_eq!(
                    (Some(device), Some(function)),
                    (row.device, row.function),
                    "{id}"
                );
                assert_ne!(wire, computed);
            }
            ("error_response", Ok(Frame::ErrorResponse(e))) => {
                assert_eq!(Some(e.device), row.device, "{id}");
                assert_eq!(row.function, Some(e.function | 0x80), "{id}");
                assert_eq!((Some(e.base), Some(e.count)), (row.base, row.count), "{id}");
            }
            ("heartbeat", Ok(Frame::Heartbeat(h))) => assert_eq!(h.adapter_type, 1, "{id}"),
            ("null", Ok(frame @ Frame::Null(n))) => {
                assert!(frame.is_ignorable());
                assert_eq!(Some(n.device), row.device, "{id}");
            }
            ("lan_config", Ok(frame @ Frame::LanConfig(_))) => assert!(frame.is_ignorable()),
            (kind, other) => panic!("{id}: {kind} decoded as {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 155);
}

#[test]
fn every_decodable_frame_re_encodes_to_the_same_bytes() {
    for row in rows().iter().filter(|r| r.kind != "stream_chunk") {
        if let Ok(frame) = Frame::decode(&row.bytes) {
            assert_eq!(
                frame.encode().as_deref(),
                Ok(row.bytes.as_slice()),
                "{}",
                row.id
            );
        }
    }
}

#[test]
fn requests_and_replies_pair_by_shape() {
    let rows = rows();
    let mut pairs = 0;
    for row in rows.iter().filter(|r| r.kind == "read_request") {
        let Some(reply_id) = row
            .note
            .split("reply is ")
            .nth(1)
            .map(|s| s[..4].to_owned())
        else {
            continue;
        };
        let request = Frame::decode(&row.bytes).expect("request decodes");
        let key = request.reply_key().expect("a request has a reply key");
        let reply_row = rows.iter().find(|r| r.id == reply_id).expect("reply row");
        let reply = Frame::decode(&reply_row.bytes).expect("reply decodes");
        assert!(key.answered_by(&reply), "{} / {reply_id}", row.id);
        // ...and by no other reply of a different shape.
        for other in rows
            .iter()
            .filter(|r| r.kind == "read_response" && r.id != reply_id)
        {
            if let Ok(frame) = Frame::decode(&other.bytes)
                && key.answered_by(&frame)
            {
                assert_eq!(
                    frame.reply_key(),
                    Some(key),
                    "{} also matched {}",
                    row.id,
                    other.id
                );
            }
        }
        pairs += 1;
    }
    assert!(pairs >= 10, "only {pairs} request/reply pairs found");
}

fn listed_frames(note: &str) -> Vec<String> {
    note.rsplit("; frames: ")
        .next()
        .filter(|_| note.contains("; frames: "))
        .map(|list| list.split(", ").map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn stream_chunks_reassemble_into_the_listed_frames() {
    let rows = rows();
    let by_id = |id: &str| {
        rows.iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    // Chunks that belong to one stream, in order.
    let streams: &[&[&str]] = &[
        &["s01"],
        &["s02", "s03"],
        &["s04"],
        &["s05"],
        &["s06", "s07", "s08"],
        &["s09"],
    ];
    for stream in streams {
        let mut framer = Framer::new();
        let mut got = Vec::new();
        let mut expected: Vec<String> = Vec::new();
        for id in *stream {
            let chunk = by_id(id);
            framer.push(&chunk.bytes);
            got.extend(framer.by_ref().map(|f| f.as_bytes().to_vec()));
            for f in listed_frames(&chunk.note) {
                if !expected.contains(&f) {
                    expected.push(f);
                }
            }
        }
        let expected: Vec<Vec<u8>> = expected.iter().map(|id| by_id(id).bytes.clone()).collect();
        assert_eq!(got, expected, "stream {stream:?}");
        assert_eq!(framer.buffered(), 0, "stream {stream:?} left bytes behind");
    }
}

#[test]
fn a_stray_byte_after_a_reconnect_is_skipped() {
    let rows = rows();
    let stray = &rows.iter().find(|r| r.id == "s09").expect("s09").bytes;
    let heartbeat = &rows.iter().find(|r| r.id == "f109").expect("f109").bytes;
    let mut framer = Framer::new();
    framer.push(stray);
    framer.push(heartbeat);
    assert_eq!(
        framer.next_frame().map(|f| f.as_bytes().to_vec()).as_ref(),
        Some(heartbeat)
    );
    assert_eq!(framer.discarded_bytes(), 1);
}

#[test]
fn the_whole_table_as_one_stream_in_odd_chunks() {
    let rows = rows();
    let frames: Vec<&Row> = rows.iter().filter(|r| r.kind != "stream_chunk").collect();
    let stream: Vec<u8> = frames
        .iter()
        .flat_map(|r| r.bytes.iter().copied())
        .collect();
    for chunk in [1, 7, 64, 300, 4096] {
        let mut framer = Framer::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            framer.push(piece);
            got.extend(framer.by_ref().map(|f| f.as_bytes().to_vec()));
        }
        assert_eq!(got.len(), frames.len(), "chunk {chunk}");
        assert!(
            got.iter().zip(&frames).all(|(g, r)| *g == r.bytes),
            "chunk {chunk}"
        );
        assert_eq!(framer.discarded_bytes(), 0);
    }
}

fn int(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v:?}"))
}

#[test]
fn decoded_yaml_expectations_hold() {
    let doc: Value = serde_yaml::from_str(DECODED_YAML).expect("decoded.yaml parses");
    let entries = doc["frames"].as_sequence().expect("frames list");
    assert_eq!(entries.len(), 13);
    for e in entries {
        let id = e["id"].as_str().expect("id");
        let bytes = hex(e["hex"].as_str().expect("hex"));
        assert_eq!(bytes.len() as u64, int(e, "total_bytes"), "{id}");
        let raw = RawFrame::new(bytes.clone()).unwrap_or_else(|err| panic!("{id}: {err}"));
        let h = &e["header"];
        assert_eq!(
            u64::from(u16::from_be_bytes([bytes[0], bytes[1]])),
            int(h, "transaction_id")
        );
        assert_eq!(
            u64::from(u16::from_be_bytes([bytes[2], bytes[3]])),
            int(h, "protocol_id")
        );
        assert_eq!(
            u64::from(u16::from_be_bytes([bytes[4], bytes[5]])),
            int(h, "length")
        );
        assert_eq!(u64::from(bytes[6]), int(h, "unit_id"));
        assert_eq!(u64::from(bytes[7]), int(h, "main_function"));
        let frame = raw.decode();
        let adapter = e["adapter_serial"].as_str().expect("adapter");
        let kind = e["kind"].as_str().expect("kind");
        match kind {
            "heartbeat" => {
                let Ok(Frame::Heartbeat(hb)) = frame else {
                    panic!("{id}: {frame:?}")
                };
                assert_eq!(hb.adapter.to_string(), adapter);
                assert_eq!(u64::from(hb.adapter_type), int(e, "adapter_type"));
                assert!(e["crc"].is_null() && raw.crc().is_none());
                // The reply echoes the type byte.
                assert_eq!(hb.reply(hb.adapter).adapter_type, hb.adapter_type);
            }
            "lan_config" => {
                let Ok(Frame::LanConfig(lan)) = frame else {
                    panic!("{id}: {frame:?}")
                };
                assert_eq!(lan.adapter.to_string(), adapter);
                let f = &e["csv_fields"];
                assert_eq!(Some(lan.ip.as_str()), f["ip"].as_str());
                assert_eq!(Some(lan.netmask.as_str()), f["netmask"].as_str());
                assert_eq!(Some(lan.gateway.as_str()), f["gateway"].as_str());
                assert_eq!(e["crc_ok"].as_bool(), raw.crc().map(|c| c.ok()));
            }
            _ => {
                let length_of_rest = u64::from_be_bytes(bytes[18..26].try_into().expect("8 bytes"));
                assert_eq!(length_of_rest, int(e, "length_of_rest"), "{id}");
                assert_eq!(
                    length_of_rest as usize,
                    bytes.len() - 26,
                    "{id}: length-of-rest rule"
                );
                let crc = raw.crc().expect("transparent frame has a CRC");
                let c = &e["crc"];
                assert_eq!(u64::from(crc.wire), int(c, "value"), "{id}");
                assert_eq!(u64::from(crc.computed), int(c, "computed"), "{id}");
                assert_eq!(Some(crc.ok()), c["ok"].as_bool(), "{id}");
                let wire = hex(c["wire_bytes"].as_str().expect("wire_bytes"));
                assert_eq!(wire, bytes[bytes.len() - 2..], "{id}");
                check_modbus_entry(id, kind, e, adapter, frame);
            }
        }
    }
}

fn check_modbus_entry(
    id: &str,
    kind: &str,
    e: &Value,
    adapter: &str,
    frame: Result<Frame, FrameError>,
) {
    let device = int(e, "device_address") as u8;
    let function = int(e, "function") as u8;
    let registers: Vec<u64> = e["registers"]
        .as_sequence()
        .map(|s| s.iter().map(|v| v.as_u64().expect("register")).collect())
        .unwrap_or_default();
    match (kind, frame) {
        ("read_request", Ok(Frame::ReadRequest(r))) => {
            assert_eq!(r.adapter.to_string(), adapter);
            assert_eq!((r.device, r.function.code()), (device, function), "{id}");
            assert_eq!(
                (u64::from(r.base), u64::from(r.count)),
                (int(e, "base"), int(e, "count"))
            );
        }
        ("read_response", Ok(Frame::ReadResponse(r))) => {
            assert_eq!(r.adapter.to_string(), adapter);
            assert_eq!(
                Some(r.inverter.to_string().as_str()),
                e["inverter_serial"].as_str(),
                "{id}"
            );
            assert_eq!((r.device, r.function.code()), (device, function), "{id}");
            assert_eq!(
                (u64::from(r.base), u64::from(r.count())),
                (int(e, "base"), int(e, "count"))
            );
            let values: Vec<u64> = r.values.iter().map(|v| u64::from(*v)).collect();
            assert_eq!(values, registers, "{id}");
            check_raw_decodes(id, e, r.function, r.base, &r.values);
        }
        ("error_response", Ok(Frame::ErrorResponse(err))) => {
            assert_eq!(err.function | 0x80, function, "{id}");
            assert_eq!(err.device, device);
            assert_eq!(
                Some(err.inverter.to_string().as_str()),
                e["inverter_serial"].as_str(),
                "{id}"
            );
            assert_eq!(
                (u64::from(err.base), u64::from(err.count)),
                (int(e, "base"), int(e, "count"))
            );
            assert!(registers.is_empty());
        }
        ("null", Ok(Frame::Null(n))) => {
            assert_eq!(n.device, device, "{id}");
            assert_eq!(function, 0);
            assert_eq!(e["crc"]["ok"].as_bool(), Some(false));
            assert!(registers.iter().all(|r| *r == 0));
        }
        (kind, other) => panic!("{id}: {kind} decoded as {other:?}"),
    }
}

/// The `decoded` list names registers ("IR6-7", "HR94") and their raw words: those words must be
/// the ones the decoder put at those addresses.
fn check_raw_decodes(id: &str, e: &Value, function: ReadFunction, base: u16, values: &[u16]) {
    let Some(list) = e["decoded"].as_sequence() else {
        return;
    };
    for d in list {
        let name = d["register"].as_str().expect("register name");
        let (table, range) = name.split_at(2);
        let expected_table = match function {
            ReadFunction::Holding => "HR",
            _ => "IR",
        };
        assert_eq!(table, expected_table, "{id}: {name}");
        let mut ends = range
            .split('-')
            .map(|n| n.parse::<u16>().expect("register number"));
        let first = ends.next().expect("first");
        let last = ends.next().unwrap_or(first);
        let words: Vec<u64> = (first..=last)
            .map(|reg| u64::from(values[usize::from(reg - base)]))
            .collect();
        let raw: Vec<u64> = match &d["raw"] {
            Value::Sequence(s) => s.iter().map(|v| v.as_u64().expect("raw")).collect(),
            v => vec![v.as_u64().expect("raw")],
        };
        assert_eq!(words, raw, "{id}: {name}");
    }
}
