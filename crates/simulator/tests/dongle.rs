//! The simulated GivEnergy dongle spoken to over raw sockets on loopback: framing, fan-out to
//! every client, heartbeats, silent drop of bad frames, writes changing state.

use std::time::Duration;

use givenergy_dongle::{Frame, Framer, ReadFunction, ReadRequest, Serial, WriteRequest};
use modbus_core::Table;
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle, DongleSimulatorOptions};
use simulator::modbus::{Access, RegisterBank};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn start(options: DongleSimulatorOptions) -> DongleSimulatorHandle {
    let mut bank = RegisterBank::new();
    let words: Vec<u16> = (0..60).map(|i| 500 + i).collect();
    bank.insert(0x11, Table::Holding, 0, &words, Access::ReadWrite)
        .unwrap();
    bank.insert(0x11, Table::Input, 0, &words, Access::Read)
        .unwrap();
    DongleSimulator::builder(bank)
        .read_only(0x11, 0, 1)
        .options(options)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// Reads from `stream` until `framer` yields a frame, at most 5 s.
async fn next_frame(stream: &mut TcpStream, framer: &mut Framer) -> Frame {
    let read = async {
        loop {
            if let Some(raw) = framer.next_frame() {
                return raw.decode().expect("the simulator sends valid frames");
            }
            let mut buf = [0_u8; 512];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed");
            framer.push(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a frame within 5 s")
}

fn read_request(function: ReadFunction, base: u16, count: u16) -> Vec<u8> {
    Frame::ReadRequest(ReadRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device: 0x11,
        function,
        base,
        count,
    })
    .encode()
    .unwrap()
}

#[tokio::test]
async fn replies_go_to_every_client() {
    let sim = start(DongleSimulatorOptions::default()).await;
    let mut asker = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut bystander = TcpStream::connect(sim.local_addr()).await.unwrap();
    // Both connections are subscribed to the replies once counted.
    let ok = async {
        while sim.stats().connections < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), ok)
        .await
        .unwrap();
    asker
        .write_all(&read_request(ReadFunction::Input, 0, 60))
        .await
        .unwrap();
    let (mut fa, mut fb) = (Framer::new(), Framer::new());
    let a = next_frame(&mut asker, &mut fa).await;
    let b = next_frame(&mut bystander, &mut fb).await;
    assert_eq!(a, b, "the bystander sees the same reply");
    let Frame::ReadResponse(r) = a else {
        panic!("{a:?}")
    };
    assert_eq!(
        (r.device, r.base, r.count(), r.values[59]),
        (0x11, 0, 60, 559)
    );
}

#[tokio::test]
async fn without_fan_out_only_the_asker_is_answered() {
    let sim = start(DongleSimulatorOptions {
        fan_out: false,
        ..Default::default()
    })
    .await;
    let mut asker = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut other = TcpStream::connect(sim.local_addr()).await.unwrap();
    asker
        .write_all(&read_request(ReadFunction::Holding, 0, 2))
        .await
        .unwrap();
    let mut framer = Framer::new();
    assert!(matches!(
        next_frame(&mut asker, &mut framer).await,
        Frame::ReadResponse(_)
    ));
    // The other client then asks and gets its own answer first, not the asker's.
    other
        .write_all(&read_request(ReadFunction::Holding, 1, 1))
        .await
        .unwrap();
    let mut framer = Framer::new();
    let Frame::ReadResponse(r) = next_frame(&mut other, &mut framer).await else {
        panic!()
    };
    assert_eq!((r.base, r.values.as_slice()), (1, &[501][..]));
}

#[tokio::test]
async fn heartbeats_arrive_and_replies_are_counted() {
    let sim = start(DongleSimulatorOptions {
        heartbeat_interval: Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut framer = Framer::new();
    let Frame::Heartbeat(heartbeat) = next_frame(&mut stream, &mut framer).await else {
        panic!("not a heartbeat")
    };
    assert_eq!(heartbeat.adapter_type, 1);
    let reply = Frame::Heartbeat(heartbeat.reply(Serial::CLIENT_DEFAULT))
        .encode()
        .unwrap();
    stream.write_all(&reply).await.unwrap();
    let counted = async {
        while sim.stats().heartbeat_replies < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), counted)
        .await
        .unwrap();
    assert!(sim.stats().heartbeats_sent >= 1);
}

#[tokio::test]
async fn bad_frames_are_dropped_silently_and_writes_change_state() {
    let sim = start(DongleSimulatorOptions::default()).await;
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut bad = read_request(ReadFunction::Holding, 0, 60);
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    stream.write_all(b"\x00garbage").await.unwrap();
    stream.write_all(&bad).await.unwrap();
    let write = Frame::WriteRequest(WriteRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device: 0x11,
        register: 7,
        value: 4242,
    });
    stream.write_all(&write.encode().unwrap()).await.unwrap();
    let mut framer = Framer::new();
    // The first answer is the write's: the bad read got none.
    let Frame::WriteResponse(w) = next_frame(&mut stream, &mut framer).await else {
        panic!("not a write reply")
    };
    assert_eq!((w.register, w.value), (7, 4242));
    assert_eq!(sim.registers(0x11, Table::Holding, 7, 1), [Some(4242)]);
    assert_eq!(sim.stats().bad_frames, 1);
    // A read-only register refuses writes with an error reply.
    let write = Frame::WriteRequest(WriteRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device: 0x11,
        register: 0,
        value: 1,
    });
    stream.write_all(&write.encode().unwrap()).await.unwrap();
    let Frame::ErrorResponse(e) = next_frame(&mut stream, &mut framer).await else {
        panic!("not an error reply")
    };
    assert_eq!((e.function, e.base), (0x06, 0));
    assert_eq!(sim.registers(0x11, Table::Holding, 0, 1), [Some(500)]);
    // A bank the device lacks is refused; an unknown device answers zeros.
    stream
        .write_all(&read_request(ReadFunction::Holding, 1100, 60))
        .await
        .unwrap();
    let Frame::ErrorResponse(e) = next_frame(&mut stream, &mut framer).await else {
        panic!("not an error reply")
    };
    assert_eq!((e.function, e.base, e.count), (0x03, 1100, 60));
    let empty = Frame::ReadRequest(ReadRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device: 0x34,
        function: ReadFunction::Input,
        base: 60,
        count: 60,
    });
    stream.write_all(&empty.encode().unwrap()).await.unwrap();
    let Frame::ReadResponse(r) = next_frame(&mut stream, &mut framer).await else {
        panic!("not a read reply")
    };
    assert!(r.device == 0x34 && r.values.iter().all(|v| *v == 0));
}
