//! A validated device map: the typed form every other part of the workspace uses.
//!
//! Nothing here can be built in an invalid state from a file: [`crate::load`] checks every rule
//! of `docs/map-format.md` first. The fields are public so that renderers, the simulator and the
//! docs generator can read them freely.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use modbus_core::{Codec, DataType, Order, Sentinel, Table, Value};

/// One device map, loaded and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceMap {
    /// The id: the file name without `.yaml`.
    pub id: String,
    /// Where the map was loaded from.
    pub source: Source,
    /// Manufacturer as printed on the device.
    pub manufacturer: String,
    /// Model or model family.
    pub model: String,
    /// What kind of device this is (`category:`), when the map says.
    pub category: Option<crate::Category>,
    /// A sentence or two about the device.
    pub description: Option<String>,
    /// The documents the map was written from.
    pub documents: Vec<String>,
    /// Connection defaults and request limits.
    pub connection: Connection,
    /// Every register, in file order.
    pub registers: Vec<Register>,
    /// Writes that repeat while a client is connected.
    pub heartbeats: Vec<Heartbeat>,
    /// Named commands.
    pub actions: Vec<Action>,
    /// Values computed from other values after each read, in file order.
    pub derived: Vec<Derived>,
    /// How the outputs present the values (`output:`).
    pub output: Output,
    /// What must hold before the values are trusted (`checks:`), in file order.
    pub checks: Vec<crate::check::Check>,
    /// What names the device to identification without being a condition on reads
    /// (`identify:`): never read by `read`, `poll` or `write`, never withholding a value.
    pub identify: Vec<crate::check::Check>,
    /// The map this one is a variant of (`extends:`), if any.
    pub extends: Option<String>,
    /// A SunSpec map (`sunspec:`): the chain its SunSpec registers stand for, and how to
    /// expand it for another ([`DeviceMap::with_sunspec_chain`]).
    pub sunspec: Option<crate::sunspec::Sunspec>,
}

impl DeviceMap {
    /// The checks that recognise the device: those the map's file wrote. A `sunspec:` map also
    /// checks every model header of its chain on a verified read; identification leaves those
    /// out, since the generic map fits any chain.
    pub fn identity_checks(&self) -> &[crate::Check] {
        match &self.sunspec {
            Some(s) => &self.checks[..s.written_checks.min(self.checks.len())],
            None => &self.checks,
        }
    }

    /// This `sunspec:` map expanded for `chain` (a chain [`crate::sunspec::walk`] read from a
    /// device): every SunSpec register at the address the device has it. `None` for a map
    /// without `sunspec:`.
    pub fn with_sunspec_chain(
        &self,
        chain: &crate::sunspec::Chain,
    ) -> Option<Result<DeviceMap, crate::MapError>> {
        let spec = self.sunspec.as_ref()?;
        Some(crate::load::parse_with_chain(
            &self.id,
            self.source.clone(),
            &spec.file,
            &spec.text,
            Some(chain),
        ))
    }
}

/// The range of values a register may hold (`valid:`), bounds inclusive, `None` open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Valid {
    /// Lowest valid value.
    pub min: Option<f64>,
    /// Highest valid value.
    pub max: Option<f64>,
}

impl Valid {
    /// Whether `x` is within the range.
    pub fn contains(&self, x: f64) -> bool {
        !x.is_nan() && self.min.is_none_or(|lo| x >= lo) && self.max.is_none_or(|hi| x <= hi)
    }
}

impl fmt::Display for Valid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => write!(f, "{lo}..{hi}"),
            (Some(lo), None) => write!(f, "at least {lo}"),
            (None, Some(hi)) => write!(f, "at most {hi}"),
            (None, None) => f.write_str("any value"),
        }
    }
}

/// Presentation preferences of a map (`output:`), for the tools its users come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// What JSON prints for an enumeration.
    pub json_enums: JsonEnums,
}

/// What JSON prints for a value that has an enumeration label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum JsonEnums {
    /// The number (`"availability": 1`), as the Alfen and Vestel tools print it.
    #[default]
    Value,
    /// The label (`"Mode": "Eco"`), as GivTCP prints it; a value without a label stays a number.
    Label,
}

impl JsonEnums {
    /// Every choice.
    pub const ALL: [JsonEnums; 2] = [JsonEnums::Value, JsonEnums::Label];

    /// The word used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            JsonEnums::Value => "value",
            JsonEnums::Label => "label",
        }
    }
}

impl fmt::Display for JsonEnums {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value computed from other registers' values after a read; never written.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// Stable key, unique among registers and derived values.
    pub name: String,
    /// Human label.
    pub title: String,
    /// Output group path.
    pub group: Option<String>,
    /// The key within its group in nested output, when it is not the name.
    pub key: Option<String>,
    /// Physical unit.
    pub unit: Option<String>,
    /// What the value is (`measurement`, `counter` or `state`).
    pub kind: Kind,
    /// Labels of whole-number results.
    pub enumeration: Vec<(i64, String)>,
    /// What the value means.
    pub description: Option<String>,
    /// The expression, over register names and earlier derived names.
    pub expr: crate::expr::Expr,
    /// The text of the expression, as the map wrote it.
    pub expr_text: String,
    /// The names the expression reads, without duplicates, in order of first use.
    pub inputs: Vec<String>,
}

impl Derived {
    /// The key within its group in nested output: `key`, else the name.
    pub fn output_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }

    /// The enumeration label of a result.
    pub fn label(&self, value: f64) -> Option<&str> {
        self.enumeration
            .iter()
            .find(|(v, _)| *v as f64 == value)
            .map(|(_, l)| l.as_str())
    }
}

impl DeviceMap {
    /// Where `r` is, for messages: `holding register 40004`, with its unit role when the map
    /// has several (`input register 0 of unit battery_1`).
    pub fn describe_location(&self, r: &Register) -> String {
        let mut text = format!("{} register {}", r.table, r.address);
        if self.connection.unit_ids.len() > 1 {
            match &r.unit_id {
                UnitRef::Role(role) => text.push_str(&format!(" of unit {role}")),
                UnitRef::Id(id) => text.push_str(&format!(" of unit {id}")),
            }
        }
        text
    }

    /// The register called `name`.
    pub fn register(&self, name: &str) -> Option<&Register> {
        self.registers.iter().find(|r| r.name == name)
    }

    /// The index of the register called `name` in [`DeviceMap::registers`].
    pub fn register_index(&self, name: &str) -> Option<usize> {
        self.registers.iter().position(|r| r.name == name)
    }

    /// The derived value called `name`.
    pub fn derived(&self, name: &str) -> Option<&Derived> {
        self.derived.iter().find(|d| d.name == name)
    }

    /// The action called `name`.
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The distinct groups of registers and derived values, in order of first appearance.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        let registers = self.registers.iter().filter_map(|r| r.group.as_deref());
        let derived = self.derived.iter().filter_map(|d| d.group.as_deref());
        for group in registers.chain(derived) {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        groups
    }
}

/// Where a map came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled into the library from `devices/<file>`.
    BuiltIn {
        /// The path relative to the workspace root, e.g. `devices/alfen-eve.yaml`.
        path: &'static str,
    },
    /// Loaded at run time from a file.
    File(PathBuf),
    /// Parsed from text handed to [`crate::load::parse_map`] under this name.
    Text(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn { path } => write!(f, "{path} (built in)"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Text(name) => f.write_str(name),
        }
    }
}

/// How a device is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Modbus TCP (MBAP header).
    ModbusTcp,
    /// Modbus RTU frames carried over TCP by a gateway.
    RtuOverTcp,
    /// Modbus RTU on a serial line.
    SerialRtu,
    /// The GivEnergy Wi-Fi/Ethernet dongle framing on TCP.
    GivenergyDongle,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 4] = [
        Transport::ModbusTcp,
        Transport::RtuOverTcp,
        Transport::SerialRtu,
        Transport::GivenergyDongle,
    ];

    /// The name used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::ModbusTcp => "modbus-tcp",
            Transport::RtuOverTcp => "rtu-over-tcp",
            Transport::SerialRtu => "serial-rtu",
            Transport::GivenergyDongle => "givenergy-dongle",
        }
    }

    /// The port used when a map names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Transport::GivenergyDongle => 8899,
            _ => 502,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the document numbers its registers: what `connection.address_base` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressBase {
    /// A number subtracted from every address: 0 (wire addresses), 1, 30001, 40001, ...
    Offset(u32),
    /// Modicon numbering: the leading digit of each address names its table and base, so one
    /// document can mix 3xxxx input and 4xxxx holding registers (see [`AddressBase::modicon`]).
    Modicon,
}

impl AddressBase {
    /// The table and wire address a Modicon-style address names: 1-9999 coils (0xxxx),
    /// 10001-19999 discrete inputs (1xxxx), 30001-39999 input registers (3xxxx), 40001-49999
    /// holding registers (4xxxx), and the six-digit forms 100001-165536, 300001-365536 and
    /// 400001-465536. `None` for any other number (2xxxx, 5xxxx and up, 10000, 30000, ...).
    ///
    /// ```
    /// use device_maps::AddressBase;
    /// use device_maps::modbus_core::Table;
    ///
    /// assert_eq!(AddressBase::modicon(30010), Some((Table::Input, 9)));
    /// assert_eq!(AddressBase::modicon(400001), Some((Table::Holding, 0)));
    /// assert_eq!(AddressBase::modicon(1), Some((Table::Coil, 0)));
    /// assert_eq!(AddressBase::modicon(20001), None);
    /// ```
    pub fn modicon(address: u32) -> Option<(Table, u16)> {
        let (table, base) = match address {
            1..=9_999 => (Table::Coil, 1),
            10_001..=19_999 => (Table::Discrete, 10_001),
            30_001..=39_999 => (Table::Input, 30_001),
            40_001..=49_999 => (Table::Holding, 40_001),
            100_001..=165_536 => (Table::Discrete, 100_001),
            300_001..=365_536 => (Table::Input, 300_001),
            400_001..=465_536 => (Table::Holding, 400_001),
            _ => return None,
        };
        u16::try_from(address - base).ok().map(|wire| (table, wire))
    }

    /// One line for documentation: the base and how it turns an address into a wire address.
    pub fn explain(self) -> String {
        match self {
            AddressBase::Offset(base) => format!("{base} (wire address = address − {base})"),
            AddressBase::Modicon => "modicon (the leading digit picks the table: 0xxxx coil, \
                                     1xxxx discrete, 3xxxx input, 4xxxx holding; wire address = \
                                     address − 1, 10001, 30001 or 40001)"
                .to_owned(),
        }
    }
}

impl fmt::Display for AddressBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressBase::Offset(base) => write!(f, "{base}"),
            AddressBase::Modicon => f.write_str("modicon"),
        }
    }
}

/// Connection defaults and the device's request limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// How the device is reached.
    pub transport: Transport,
    /// Default TCP port.
    pub port: u16,
    /// Named unit ids (roles), in file order.
    pub unit_ids: Vec<(String, u8)>,
    /// The role registers use by default, and the one `--unit N` replaces.
    pub main_unit: String,
    /// Other unit ids each role may answer at with the same registers (Alfen dual station:
    /// socket 2), in file order.
    pub extra_unit_ids: Vec<(String, Vec<u8>)>,
    /// The document's address base: wire address = address - base, or Modicon numbering.
    pub address_base: AddressBase,
    /// Default byte and word order.
    pub order: Order,
    /// Most registers per read request.
    pub max_registers: u16,
    /// Most coils or discrete inputs per read request.
    pub max_bits: u16,
    /// Whether a read may cover undeclared addresses.
    pub span_gaps: bool,
    /// Longest run of undeclared registers one request may bridge (0 when gaps may not be spanned).
    pub max_gap: u16,
    /// Requests stay within pages of this size.
    pub page_size: Option<u16>,
    /// Least time between two requests.
    pub pacing: Duration,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Most TCP connections the device accepts.
    pub max_connections: u16,
    /// The device drops a connection idle this long.
    pub idle_timeout: Option<Duration>,
    /// Whole blocks the device answers (zeros where no register is declared).
    pub blocks: Vec<Block>,
    /// How long read-back keeps trying after a write.
    pub write_confirm: WriteConfirm,
}

/// A whole block of registers a device answers, declared or not (`connection.blocks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The unit role.
    pub unit: String,
    /// The table.
    pub table: Table,
    /// First wire address.
    pub from: u16,
    /// Last wire address (inclusive).
    pub to: u16,
}

/// The read-back window of writes (`connection.write_confirm`): real devices apply a write a
/// moment after acknowledging it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteConfirm {
    /// Read back until this much time has passed before reporting "not confirmed".
    pub within: Duration,
    /// Time between two read-backs.
    pub every: Duration,
}

impl WriteConfirm {
    /// The window of a map that says nothing: 1 s, reading back every 250 ms.
    pub const DEFAULT: WriteConfirm = WriteConfirm {
        within: Duration::from_secs(1),
        every: Duration::from_millis(250),
    };

    /// One read-back and no retry.
    pub const ONCE: WriteConfirm = WriteConfirm {
        within: Duration::ZERO,
        every: Duration::from_millis(250),
    };
}

impl Default for WriteConfirm {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Connection {
    /// The other unit ids `role` may answer at (empty for most devices).
    pub fn extra_ids(&self, role: &str) -> &[u8] {
        self.extra_unit_ids
            .iter()
            .find(|(r, _)| r == role)
            .map_or(&[], |(_, ids)| ids.as_slice())
    }

    /// The unit id of a role, as the map declares it.
    pub fn unit_id(&self, role: &str) -> Option<u8> {
        self.unit_ids
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, id)| *id)
    }
}

/// Which unit a register is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnitRef {
    /// A role of `connection.unit_ids`; a caller may replace its id.
    Role(String),
    /// A literal unit id.
    Id(u8),
}

/// How the words of a register are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterType {
    /// A coil or discrete input: one bit.
    Bool,
    /// One or more 16-bit registers of this type.
    Data(DataType),
}

impl RegisterType {
    /// The name used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            RegisterType::Bool => "bool",
            RegisterType::Data(t) => t.name(),
        }
    }

    /// The modbus-core data type, unless this is a single bit.
    pub const fn data_type(self) -> Option<DataType> {
        match self {
            RegisterType::Bool => None,
            RegisterType::Data(t) => Some(t),
        }
    }
}

impl fmt::Display for RegisterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What multiplies the raw value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// A fixed factor.
    Factor(f64),
    /// 10 to the power of this register's value (SunSpec scale factors).
    PowerOfTen(String),
}

impl Scale {
    /// True for a plain factor of 1.
    pub fn is_identity(&self) -> bool {
        matches!(self, Scale::Factor(f) if *f == 1.0)
    }
}

/// What a register's value is, for Prometheus types and Home Assistant classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A gauge.
    Measurement,
    /// Only grows (energy totals).
    Counter,
    /// An enumeration or a status.
    State,
    /// Text.
    Text,
    /// A setting a client may change.
    Setting,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Measurement,
        Kind::Counter,
        Kind::State,
        Kind::Text,
        Kind::Setting,
    ];

    /// The name used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Measurement => "measurement",
            Kind::Counter => "counter",
            Kind::State => "state",
            Kind::Text => "text",
            Kind::Setting => "setting",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a register may be read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only.
    Read,
    /// Read and write.
    ReadWrite,
    /// Write only: never read.
    Write,
}

impl Access {
    /// The name used in map files.
    pub const fn name(self) -> &'static str {
        match self {
            Access::Read => "r",
            Access::ReadWrite => "rw",
            Access::Write => "w",
        }
    }

    /// True for `r` and `rw`.
    pub const fn readable(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    /// True for `rw` and `w`.
    pub const fn writable(self) -> bool {
        matches!(self, Access::ReadWrite | Access::Write)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an integer is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A time of day written as the decimal number HHMM (2330 = 23:30).
    Hhmm,
}

/// A write bound: a number, or another register's current value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// A fixed number, in the register's unit.
    Value(f64),
    /// The current value of this register.
    Register(String),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Value(v) => write!(f, "{v}"),
            Bound::Register(r) => write!(f, "`{r}`"),
        }
    }
}

/// What is read after a write to confirm it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadBack {
    /// Nothing: the device's read-back cannot be trusted, or the register is write-only.
    None,
    /// The written register itself.
    Same,
    /// Another register that shows the applied value.
    Register(String),
}

/// Write constraints of a writable register.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRule {
    /// Lower bound, inclusive.
    pub min: Option<Bound>,
    /// Upper bound, inclusive.
    pub max: Option<Bound>,
    /// Allowed increments from `min` (or 0).
    pub step: Option<f64>,
    /// Values allowed outside the bounds.
    pub also: Vec<f64>,
    /// What to read afterwards to confirm.
    pub read_back: ReadBack,
}

/// One register (or coil, or field of several registers).
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    /// Stable key.
    pub name: String,
    /// Human label.
    pub title: String,
    /// The address as the document prints it.
    pub address: u32,
    /// The 0-based address on the wire.
    pub wire_address: u16,
    /// The table.
    pub table: Table,
    /// The unit the register is read from.
    pub unit_id: UnitRef,
    /// The type of its words.
    pub register_type: RegisterType,
    /// Number of registers (or bits) it spans.
    pub count: u16,
    /// Byte and word order.
    pub order: Order,
    /// Factor applied to the raw value.
    pub scale: Scale,
    /// Added after scaling.
    pub offset: f64,
    /// Physical unit of the value.
    pub unit: Option<String>,
    /// Labels of raw values.
    pub enumeration: Vec<(i64, String)>,
    /// Labels of text values, for text registers (`{A: NotConnected, C2: Charging}`).
    pub text_enumeration: Vec<(String, String)>,
    /// Labels of bits.
    pub flags: Vec<(u32, String)>,
    /// Raw patterns that mean "not available".
    pub sentinels: Vec<Sentinel>,
    /// The decoded values the standard allows (`valid:`); others are missing.
    pub valid: Option<Valid>,
    /// How the value is shown.
    pub format: Option<Format>,
    /// What the value is.
    pub kind: Kind,
    /// Read and write access.
    pub access: Access,
    /// Write constraints, for writable registers.
    pub write: Option<WriteRule>,
    /// Output group path, e.g. `Energy/Today`.
    pub group: Option<String>,
    /// The key within its group in nested output, when it is not the name.
    pub key: Option<String>,
    /// The phase the value belongs to (`L1`, `L1N`, `L1L2`, `N`, ...), when the map says.
    pub phase: Option<String>,
    /// What the value stands for in a site overview, when the map says.
    pub role: Option<crate::Role>,
    /// What the register means.
    pub description: Option<String>,
    /// A typical value, in the register's unit; `NaN` when the map's example is `null` ("not
    /// available"), see [`Register::example_words`].
    pub example: Value,
    /// For `example: null`: the words the device sends for "not available" (the register's
    /// first usable sentinel, or a NaN float), which simulators serve as the example.
    pub example_words: Option<Vec<u16>>,
    /// The words-to-value codec: type, count, order, sentinels, and the scale when it is a
    /// fixed factor (a scale-factor register is applied on top, see [`Scale::PowerOfTen`]).
    /// `None` for coils and discrete inputs.
    pub codec: Option<Codec>,
}

impl Register {
    /// The words this register answers with when the device has no value ("not available"):
    /// its first sentinel that its codec reads as missing, in the register's byte and word
    /// order, else a NaN float; `None` when the register cannot say "not available". This is
    /// what `example: null` serves, so simulators and values files agree with the map.
    pub fn unavailable_words(&self) -> Option<Vec<u16>> {
        crate::load::unavailable_words(self)
    }

    /// The enumeration label of a raw value.
    pub fn label(&self, raw: i64) -> Option<&str> {
        self.enumeration
            .iter()
            .find(|(v, _)| *v == raw)
            .map(|(_, l)| l.as_str())
    }

    /// The label of a text value of a text register (compared after trimming).
    pub fn text_label(&self, text: &str) -> Option<&str> {
        let text = text.trim();
        self.text_enumeration
            .iter()
            .find(|(v, _)| v == text)
            .map(|(_, l)| l.as_str())
    }

    /// The raw value of an enumeration label (exact match first, then ignoring case).
    pub fn value_of_label(&self, label: &str) -> Option<i64> {
        self.enumeration
            .iter()
            .find(|(_, l)| l == label)
            .or_else(|| {
                self.enumeration
                    .iter()
                    .find(|(_, l)| l.eq_ignore_ascii_case(label))
            })
            .map(|(v, _)| *v)
    }

    /// The labels of the bits set in `bits`.
    pub fn flag_labels(&self, bits: u64) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(bit, _)| *bit < 64 && (bits >> bit) & 1 == 1)
            .map(|(_, l)| l.as_str())
            .collect()
    }

    /// The key within its group in nested output: `key`, else the name.
    pub fn output_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }

    /// The last wire address the register covers.
    pub fn last_wire_address(&self) -> u32 {
        u32::from(self.wire_address) + u32::from(self.count) - 1
    }
}

/// The phases a register may declare with `phase:`.
pub const PHASES: [&str; 10] = [
    "L1", "L2", "L3", "N", "L1N", "L2N", "L3N", "L1L2", "L2L3", "L3L1",
];

/// How often a heartbeat repeats.
#[derive(Debug, Clone, PartialEq)]
pub enum Every {
    /// A fixed interval.
    Fixed(Duration),
    /// A register's current value, in its time unit, divided by `divisor` (multiplied when the
    /// map wrote `*`).
    Register {
        /// The register holding a time.
        register: String,
        /// Seconds per unit of the register's value (1 for `s`, 0.001 for `ms`, 60 for `min`).
        seconds_per_unit: f64,
        /// The interval is the value times this factor (`/ 2` is 0.5).
        factor: f64,
        /// Never more often than this.
        min: Option<Duration>,
        /// The interval while the register is unknown, missing or zero.
        fallback: Option<Duration>,
    },
}

/// What a heartbeat writes.
#[derive(Debug, Clone, PartialEq)]
pub enum HeartbeatWrite {
    /// Fixed values.
    Values(Vec<(String, Value)>),
    /// The last value this client wrote to the register.
    Refresh(String),
}

/// A write that repeats while a client is connected.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    /// Name for logs and docs.
    pub name: String,
    /// What it writes.
    pub write: HeartbeatWrite,
    /// How often.
    pub every: Every,
    /// What it is for.
    pub description: Option<String>,
}

impl Heartbeat {
    /// The interval to use, given the current value of the register an expression names (in
    /// that register's unit), or `None` when it is unknown.
    pub fn interval(&self, register_value: Option<f64>) -> Duration {
        match &self.every {
            Every::Fixed(d) => *d,
            Every::Register {
                seconds_per_unit,
                factor,
                min,
                fallback,
                ..
            } => {
                let fallback = fallback.unwrap_or(Duration::from_secs(5));
                let secs = match register_value {
                    Some(v) if v.is_finite() && v > 0.0 => v * seconds_per_unit * factor,
                    _ => return fallback,
                };
                let interval = Duration::try_from_secs_f64(secs).unwrap_or(fallback);
                match min {
                    Some(min) if interval < *min => *min,
                    _ => interval,
                }
            }
        }
    }

    /// The register an interval expression reads, if any.
    pub fn interval_register(&self) -> Option<&str> {
        match &self.every {
            Every::Register { register, .. } => Some(register),
            Every::Fixed(_) => None,
        }
    }
}

/// A named command with typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Name, as `evctl call` takes it.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Parameters, in file order.
    pub params: Vec<Param>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

/// The type of an action parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// A whole number.
    Int,
    /// A decimal number.
    Number,
    /// A whole number 0..=100.
    Percent,
    /// On or off (1 or 0).
    Bool,
    /// A time of day, as HHMM.
    Hhmm,
    /// A date and time `dd/mm/yyyy hh:mm:ss`.
    DateTime,
    /// A label or number from this list.
    Enum(Vec<(String, i64)>),
}

impl ParamType {
    /// The name used in map files.
    pub fn name(&self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Number => "number",
            ParamType::Percent => "percent",
            ParamType::Bool => "bool",
            ParamType::Hhmm => "hhmm",
            ParamType::DateTime => "datetime",
            ParamType::Enum(_) => "enum",
        }
    }
}

/// One parameter of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name, as `key=value` takes it.
    pub name: String,
    /// Type.
    pub param_type: ParamType,
    /// Lowest value.
    pub min: Option<f64>,
    /// Highest value.
    pub max: Option<f64>,
    /// Increments from `min`.
    pub step: Option<f64>,
    /// May be left out.
    pub optional: bool,
    /// What it means.
    pub description: Option<String>,
}

/// One step of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The condition, if any.
    pub when: Option<crate::expr::Condition>,
    /// Register name and value expression, in order.
    pub set: Vec<(String, crate::expr::Expr)>,
}
