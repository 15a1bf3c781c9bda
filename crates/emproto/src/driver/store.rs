//! The list of known chargers, persisted as one JSON file in a state directory.
//!
//! A charger heard once (or logged in to once) is remembered with its serial, last address and
//! port, its password and the time of the last start or stop sent to it. The next run can then
//! log in without waiting for a broadcast, and the start/stop rate limit survives restarts.
//!
//! The file is written atomically (a temporary file in the same directory, synced, then renamed
//! over the old one) and with mode 0600, because it holds passwords in the clear: the charger
//! protocol needs the plain six digits, so obfuscating them here would only pretend to protect
//! them. The password never appears in `Debug` output of these types.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the file inside the state directory.
pub const FILE_NAME: &str = "em-chargers.json";

/// A charger password (six ASCII digits on every known unit). `Debug` and `Display` never show
/// it; use [`Secret::expose`] where the protocol needs the bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for building datagrams.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// One remembered charger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownCharger {
    /// The serial as 16 lower-case hex digits.
    pub serial: String,
    /// Last address the charger sent from.
    pub address: IpAddr,
    /// Last UDP port the charger sent from.
    pub port: u16,
    /// The password, once a login succeeded (or was configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Brand as the charger announced it, for selecting it by name while it is offline.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub brand: String,
    /// Model as the charger announced it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// Unix seconds of the last start or stop command sent to it (rate limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_switch_unix: Option<u64>,
}

impl KnownCharger {
    /// The charger's socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    /// Format version, for later migrations.
    version: u32,
    chargers: Vec<KnownCharger>,
}

/// Errors reading or writing the known-chargers file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but could not be read.
    #[error("cannot read the known-chargers file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("the known-chargers file {} is not valid", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        #[source]
        source: Box<serde_json::Error>,
    },
    /// Writing, syncing or renaming failed.
    #[error("cannot write the known-chargers file {}", path.display())]
    Write {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The known chargers of one state directory.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    chargers: Vec<KnownCharger>,
}

impl Store {
    /// Loads `dir/em-chargers.json`; a missing file (or directory) yields an empty store.
    pub fn load(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let chargers = match fs::read(&path) {
            Ok(bytes) => {
                let file: FileFormat =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Parse {
                        path: path.clone(),
                        source: Box::new(e),
                    })?;
                file.chargers
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        Ok(Self { path, chargers })
    }

    /// An empty store that would be saved to `dir`.
    pub fn empty(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
            chargers: Vec::new(),
        }
    }

    /// The file this store saves to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All known chargers.
    pub fn chargers(&self) -> &[KnownCharger] {
        &self.chargers
    }

    /// The entry for one serial.
    pub fn get(&self, serial: &str) -> Option<&KnownCharger> {
        self.chargers.iter().find(|c| c.serial == serial)
    }

    /// The entry for one serial, mutable.
    pub fn get_mut(&mut self, serial: &str) -> Option<&mut KnownCharger> {
        self.chargers.iter_mut().find(|c| c.serial == serial)
    }

    /// Inserts or replaces the entry with the same serial. Returns whether anything changed.
    pub fn upsert(&mut self, charger: KnownCharger) -> bool {
        match self.get_mut(&charger.serial) {
            Some(old) if *old == charger => false,
            Some(old) => {
                *old = charger;
                true
            }
            None => {
                self.chargers.push(charger);
                self.chargers.sort_by(|a, b| a.serial.cmp(&b.serial));
                true
            }
        }
    }

    /// Forgets a charger. Returns whether it was known.
    pub fn remove(&mut self, serial: &str) -> bool {
        let before = self.chargers.len();
        self.chargers.retain(|c| c.serial != serial);
        before != self.chargers.len()
    }

    /// Writes the file atomically with mode 0600, creating the directory (0700) if needed.
    pub fn save(&self) -> Result<(), StoreError> {
        let file = FileFormat {
            version: 1,
            chargers: self.chargers.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&file).map_err(|e| StoreError::Write {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        text.push(b'\n');
        write_atomically(&self.path, &text)
    }
}

/// Writes `bytes` to `path` through a synced temporary sibling and a rename, mode 0600.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Write { path: p, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        create_private_dir(dir).map_err(write_err(dir))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = open_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(&tmp)(e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(path)(e));
    }
    // Make the rename durable; failure to sync a directory is not worth failing the save.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charger(serial: &str) -> KnownCharger {
        KnownCharger {
            serial: serial.into(),
            address: "127.0.0.1".parse().expect("literal"),
            port: 30139,
            password: Some(Secret::new("123456")),
            brand: "BESEN".into(),
            model: "BS20".into(),
            last_switch_unix: Some(1_700_000_000),
        }
    }

    #[test]
    fn round_trips_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("state");
        let mut store = Store::load(&sub).expect("missing file is empty");
        assert!(store.chargers().is_empty());
        assert!(store.upsert(charger("9181102751219513")));
        assert!(!store.upsert(charger("9181102751219513")));
        store.save().expect("save");
        let again = Store::load(&sub).expect("load");
        assert_eq!(again.chargers(), &[charger("9181102751219513")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(again.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(&sub)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn broken_file_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(FILE_NAME), b"{ not json").expect("write");
        let err = Store::load(dir.path()).expect_err("must fail");
        assert!(err.to_string().contains(FILE_NAME), "{err}");
        assert!(matches!(err, StoreError::Parse { .. }));
    }

    #[test]
    fn secret_is_never_debug_printed() {
        let text = format!("{:?}", charger("0123456789abcdef"));
        assert!(!text.contains("123456\""), "{text}");
        assert!(text.contains("****"));
    }
}
