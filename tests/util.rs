//! Fixtures for the end-to-end tests: a temporary working folder with a clean environment, and
//! insta filters for the parts of the output that change from run to run.
//!
//! Several test binaries (`cli`, `givenergy`, `serve`, ...) include this module and each uses a
//! part of it, hence the `allow(dead_code)` on its items.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A test's private world: a temporary folder used as working directory and as HOME, so no
/// user config or user maps on the machine leak into the test.
#[allow(dead_code)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    _settings: insta::internals::SettingsBindDropGuard,
}

#[allow(dead_code)]
impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut settings = insta::Settings::clone_current();
        let canonical = dir.path().canonicalize().expect("canonical temp path");
        settings.add_filter(&regex_escape(&canonical.display().to_string()), "[TMP]");
        settings.add_filter(&regex_escape(&dir.path().display().to_string()), "[TMP]");
        for (pattern, replacement) in FILTERS {
            settings.add_filter(pattern, *replacement);
        }
        settings.set_prepend_module_to_snapshot(false);
        let guard = settings.bind_to_scope();
        TestEnv {
            dir,
            _settings: guard,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file into the test folder and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    /// `evctl` with a clean environment, run in the test folder.
    pub fn evctl(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evctl"));
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn");
        cmd
    }
}

/// Parts of the output that change between runs.
#[allow(dead_code)]
const FILTERS: &[(&str, &str)] = &[
    // Loopback ports chosen by the OS.
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    (r"(--port|-p) \d+", "$1 [PORT]"),
    // InfluxDB line protocol timestamps (nanoseconds since the epoch, end of line).
    (r" \d{19}(\n|$)", " [TIMESTAMP]$1"),
    // RFC 3339 timestamps.
    (
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[TIME]",
    ),
    // The version number.
    (r"evctl \d+\.\d+\.\d+", "evctl [VERSION]"),
];

#[allow(dead_code)]
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A device simulator running in the test process (on its own tokio runtime), so the test can
/// count the requests `evctl` sends and look at the registers afterwards.
#[allow(dead_code)]
pub struct Sim {
    pub handle: Option<simulator::modbus::SimulatorHandle>,
    pub dongle: Option<simulator::dongle::DongleSimulatorHandle>,
    runtime: tokio::runtime::Runtime,
}

#[allow(dead_code)]
impl Sim {
    /// A simulator of the built-in map `id` with its example values on `127.0.0.1:0`.
    pub fn start(id: &str) -> Sim {
        Sim::start_with(id, simulator::modbus::Faults::none())
    }

    pub fn start_with(id: &str, faults: simulator::modbus::Faults) -> Sim {
        Sim::start_map(&built_in_map(id), faults)
    }

    /// A simulator of any map (a user map loaded by the test, for example).
    pub fn start_map(map: &device_maps::DeviceMap, faults: simulator::modbus::Faults) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let builder = simulator::modbus::Simulator::builder(map).faults(faults);
        if map.connection.transport == device_maps::Transport::GivenergyDongle {
            let bank = builder.bank().expect("map serves");
            let dongle = runtime
                .block_on(simulator::dongle::DongleSimulator::builder(bank).bind("127.0.0.1:0"))
                .expect("dongle simulator binds");
            Sim {
                handle: None,
                dongle: Some(dongle),
                runtime,
            }
        } else {
            let handle = runtime
                .block_on(builder.bind("127.0.0.1:0"))
                .expect("simulator binds");
            Sim {
                handle: Some(handle),
                dongle: None,
                runtime,
            }
        }
    }

    pub fn port(&self) -> u16 {
        match (&self.handle, &self.dongle) {
            (Some(h), _) => h.local_addr().port(),
            (None, Some(d)) => d.local_addr().port(),
            (None, None) => 0,
        }
    }

    /// The Modbus simulator's handle (panics for a dongle simulator: a test bug).
    pub fn modbus(&self) -> &simulator::modbus::SimulatorHandle {
        self.handle.as_ref().expect("a Modbus TCP simulator")
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        match (&self.handle, &self.dongle) {
            (Some(h), _) => h.log().len(),
            (None, Some(d)) => d.log().len(),
            (None, None) => 0,
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        self.handle.take();
        self.dongle.take();
    }
}

/// The built-in maps, loaded once per test binary.
#[allow(dead_code)]
pub fn registry() -> &'static device_maps::Registry {
    static REGISTRY: std::sync::OnceLock<device_maps::Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| device_maps::Registry::built_in().expect("built-in maps load"))
}

/// A built-in map by id.
#[allow(dead_code)]
pub fn built_in_map(id: &str) -> device_maps::DeviceMap {
    let map = registry().get(id).expect("map is built in");
    (**map).clone()
}

/// Ids of every shipped map.
#[allow(dead_code)]
pub fn shipped_maps() -> Vec<String> {
    registry().ids().map(str::to_owned).collect()
}

/// Runs `evctl` and returns (exit code, stdout, stderr).
#[allow(dead_code)]
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().expect("run evctl");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An `evctl simulate` child process; killed when dropped.
#[allow(dead_code)]
pub struct SimProcess {
    child: std::process::Child,
    pub port: u16,
}

#[allow(dead_code)]
impl SimProcess {
    /// Starts `evctl simulate` with `args` (the map and any options; `--listen 127.0.0.1:0` is
    /// added) and waits for the address it prints.
    pub fn start(env: &TestEnv, args: &[&str]) -> SimProcess {
        use std::io::BufRead as _;
        let mut child = env
            .evctl()
            .arg("simulate")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start evctl simulate");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("evctl simulate prints its address");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SimProcess { child, port }
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` and renders what a user sees: the command line, the exit code, stdout and
/// stderr, for an insta snapshot (the test's filters then hide ports, paths and times).
#[allow(dead_code)]
pub fn transcript(cmd: &mut Command) -> String {
    let mut line = String::from("$ evctl");
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.contains(' ') || arg.is_empty() {
            line.push_str(&format!(" '{arg}'"));
        } else {
            line.push(' ');
            line.push_str(&arg);
        }
    }
    let (code, stdout, stderr) = run(cmd);
    format!("{line}\nexit code: {code}\n----- stdout -----\n{stdout}----- stderr -----\n{stderr}")
}

/// Snapshots the transcript of an `evctl` run.
#[macro_export]
macro_rules! assert_evctl_snapshot {
    ($cmd:expr) => {
        insta::assert_snapshot!($crate::util::transcript($cmd))
    };
    ($name:expr, $cmd:expr) => {
        insta::assert_snapshot!($name, $crate::util::transcript($cmd))
    };
}
