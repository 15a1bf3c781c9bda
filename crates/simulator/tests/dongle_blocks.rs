//! Every GivEnergy map, served by the simulated dongle, answers every block a real unit of
//! that model answers: the block list a GivTCP-style client reads (specs/givenergy.md 2.1),
//! written here from the spec and not from the maps, read over a real loopback socket.

use std::time::Duration;

use givenergy_dongle::{Frame, Framer, ReadFunction, ReadRequest, Serial};
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle};
use simulator::modbus::Simulator;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const INVERTER: u8 = 0x11;

/// One read a client sends: device, function, base (60 registers each).
type Block = (u8, ReadFunction, u16);

/// The blocks a GivTCP-style full refresh reads from `model`, as specs/givenergy.md 2.1 lists
/// them: IR 0-239 and HR 0 up to the model's highest holding block at 0x11, IR 60 at every LV
/// battery slot 0x32-0x37 (an empty slot answers zeros), and IR 240 on the All-in-One.
fn client_blocks(model: &str) -> Vec<Block> {
    let highest_holding = match model {
        "givenergy-hybrid" => 180,
        "givenergy-ac" | "givenergy-aio" => 300,
        other => panic!("no block list for {other}"),
    };
    let mut blocks: Vec<Block> = [0, 60, 120, 180]
        .into_iter()
        .map(|base| (INVERTER, ReadFunction::Input, base))
        .collect();
    if model == "givenergy-aio" {
        blocks.push((INVERTER, ReadFunction::Input, 240));
    }
    blocks.extend(
        (0..=highest_holding)
            .step_by(60)
            .map(|base| (INVERTER, ReadFunction::Holding, base)),
    );
    if model != "givenergy-aio" {
        blocks.extend((0x32..=0x37).map(|pack| (pack, ReadFunction::Input, 60)));
    }
    blocks
}

async fn serve(id: &str) -> DongleSimulatorHandle {
    let registry = device_maps::Registry::built_in().unwrap();
    let map = registry.get(id).expect("a shipped map");
    let bank = Simulator::builder(map).bank().unwrap();
    DongleSimulator::builder(bank)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// Sends one 60-register read and returns the reply to it, waiting at most 5 s.
async fn read(
    stream: &mut TcpStream,
    framer: &mut Framer,
    (device, function, base): Block,
) -> Frame {
    let request = Frame::ReadRequest(ReadRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device,
        function,
        base,
        count: 60,
    });
    stream.write_all(&request.encode().unwrap()).await.unwrap();
    let reply = async {
        loop {
            while let Some(raw) = framer.next_frame() {
                match raw.decode().expect("the simulator sends valid frames") {
                    Frame::Heartbeat(_) => {}
                    frame => return frame,
                }
            }
            let mut buf = [0_u8; 512];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed");
            framer.push(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reply)
        .await
        .expect("a reply within 5 s")
}

async fn answers_every_block(id: &str) {
    let sim = serve(id).await;
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut framer = Framer::new();
    for block in client_blocks(id) {
        match read(&mut stream, &mut framer, block).await {
            Frame::ReadResponse(r) => {
                assert_eq!(
                    (r.device, r.function, r.base, r.values.len()),
                    (block.0, block.1, block.2, 60),
                    "{id}: the reply to {block:?}"
                );
            }
            other => panic!("{id}: {block:?} answered {other:?}, not 60 registers"),
        }
    }
}

#[tokio::test]
async fn hybrid_answers_every_block_a_client_reads() {
    answers_every_block("givenergy-hybrid").await;
}

#[tokio::test]
async fn ac_answers_every_block_a_client_reads() {
    answers_every_block("givenergy-ac").await;
}

#[tokio::test]
async fn aio_answers_every_block_a_client_reads() {
    answers_every_block("givenergy-aio").await;
}

/// Undeclared words of an answered block read 0; the one GivTCP-reported block (IR 120-179)
/// comes back whole, and declared registers keep their examples.
#[tokio::test]
async fn undeclared_words_of_a_block_read_zero() {
    let sim = serve("givenergy-hybrid").await;
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut framer = Framer::new();
    let Frame::ReadResponse(r) = read(
        &mut stream,
        &mut framer,
        (INVERTER, ReadFunction::Input, 120),
    )
    .await
    else {
        panic!("IR 120-179 is answered");
    };
    assert_eq!(r.values, vec![0; 60]);
    let Frame::ReadResponse(r) =
        read(&mut stream, &mut framer, (INVERTER, ReadFunction::Input, 0)).await
    else {
        panic!("IR 0-59 is answered");
    };
    assert_eq!(r.values[13], 4996, "IR13 grid frequency keeps its example");
}

/// A block the model does not have is still refused: a hybrid has no HR 240 (10-slot models)
/// nor HR 300 (AC and All-in-One only).
#[tokio::test]
async fn blocks_beyond_the_model_are_refused() {
    let sim = serve("givenergy-hybrid").await;
    let mut stream = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut framer = Framer::new();
    for base in [240, 300] {
        let reply = read(
            &mut stream,
            &mut framer,
            (INVERTER, ReadFunction::Holding, base),
        )
        .await;
        assert!(
            matches!(reply, Frame::ErrorResponse(ref e) if e.base == base),
            "HR {base}: {reply:?}"
        );
    }
}
