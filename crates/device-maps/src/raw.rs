//! The file format exactly as written: serde structures with `deny_unknown_fields`.
//!
//! These types are what serde reads from YAML and what the JSON Schema describes. Words that
//! name a choice (`type`, `table`, `order`, ...) stay strings here so that the loader
//! ([`crate::parse_map`]) can reject a wrong word with an error that lists the allowed ones and
//! points at the word itself. Validated, typed maps are [`crate::DeviceMap`]s.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A whole map file.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "evctl device map"))]
pub struct RawMap {
    /// Manufacturer as printed on the device.
    pub manufacturer: String,
    /// Model or model family.
    pub model: String,
    /// What kind of device this is: charger, meter, inverter or battery.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::category"))]
    pub category: Option<String>,
    /// One or two sentences for `evctl list` and the generated docs.
    #[serde(default)]
    pub description: Option<String>,
    /// The documents the map was written from.
    #[serde(default)]
    pub documents: Vec<String>,
    /// How to reach the device.
    pub connection: RawConnection,
    /// Defaults for registers.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// The registers.
    pub registers: Vec<RawRegister>,
    /// Register blocks repeated for several unit roles (battery packs, sockets).
    #[serde(default)]
    pub repeat: Vec<RawRepeat>,
    /// Writes that must repeat while a client is connected.
    #[serde(default)]
    pub heartbeats: Vec<RawHeartbeat>,
    /// Named commands that write one or more registers.
    #[serde(default)]
    pub actions: Ordered<RawAction>,
    /// Values computed from other registers after each read (never written).
    #[serde(default)]
    pub derived: Vec<RawDerived>,
    /// How the outputs present this device's values.
    #[serde(default)]
    pub output: Option<RawOutput>,
    /// What must hold before the device's values are trusted (and how it is recognised).
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    /// What names the device to `evctl identify` without being a condition on reads: a model
    /// code that some firmware reports differently. Same syntax as `checks:`.
    #[serde(default)]
    pub identify: Vec<RawCheck>,
    /// A SunSpec device: its chain of models is walked at run time and expanded from the
    /// SunSpec model definitions (`docs/map-format.md`, "`sunspec`").
    #[serde(default)]
    pub sunspec: Option<RawSunspec>,
}

/// `sunspec:`: where the chain starts and the example chain the map stands for until a device
/// is walked.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Sunspec"))]
pub struct RawSunspec {
    /// Wire addresses that may hold the `SunS` marker, in the order to try (default: 40000,
    /// 0, 50000).
    #[serde(default)]
    pub bases: Vec<u16>,
    /// The wire address of the example chain's marker (default: the first base).
    #[serde(default)]
    pub base: Option<u16>,
    /// The example chain: model ids, or `{id, length}` / `{id, repeats}` (MPPT modules of
    /// model 160), or `{id, length}` of a model evctl has no definition for.
    pub models: Vec<RawChainModel>,
    /// Example values by expanded register name (`inverter_W: 4520`); registers without one
    /// are served as "not implemented" (scale factors as 0, texts as empty).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::examples"))]
    pub examples: Ordered<serde_yaml::Value>,
}

/// One model of an example chain.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
#[cfg_attr(feature = "schema", schemars(rename = "ChainModel"))]
pub enum RawChainModel {
    /// A model id, at its definition's full length.
    Id(u16),
    /// A model with its length or number of repetitions given.
    Model {
        /// The model id.
        id: u16,
        /// Its length after the header (default: the definition's).
        #[serde(default)]
        length: Option<u16>,
        /// Repetitions of its repeating group (model 160's modules).
        #[serde(default)]
        repeats: Option<u16>,
    },
}

/// A map written as a variant of another (`extends:`): only what differs from the base.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Variant"))]
pub struct RawVariant {
    /// The id of the base map: a map of the same folder, else a built-in map.
    pub extends: String,
    /// Manufacturer, when it differs from the base's.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// Model or model family.
    #[serde(default)]
    pub model: Option<String>,
    /// What kind of device this is, when it differs from the base's.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::category_patch")
    )]
    pub category: Option<String>,
    /// One or two sentences for `evctl list` and the generated docs.
    #[serde(default)]
    pub description: Option<String>,
    /// The documents the differences were written from (added to the base's).
    #[serde(default)]
    pub documents: Vec<String>,
    /// Connection settings that differ from the base's; the others are the base's.
    #[serde(default)]
    pub connection: Option<RawConnectionPatch>,
    /// Registers, derived values, heartbeats and actions of the base this device lacks.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Registers added; one named as a base register replaces it.
    #[serde(default)]
    pub registers: Vec<RawRegister>,
    /// Register blocks added.
    #[serde(default)]
    pub repeat: Vec<RawRepeat>,
    /// Heartbeats added; one named as a base heartbeat replaces it.
    #[serde(default)]
    pub heartbeats: Vec<RawHeartbeat>,
    /// Actions added; one named as a base action replaces it.
    #[serde(default)]
    pub actions: Ordered<RawAction>,
    /// Derived values added; one named as a base value replaces it.
    #[serde(default)]
    pub derived: Vec<RawDerived>,
    /// Presentation preferences, when they differ.
    #[serde(default)]
    pub output: Option<RawOutput>,
    /// The checks of this device, replacing the base's when given.
    #[serde(default)]
    pub checks: Option<Vec<RawCheck>>,
    /// The identification hints of this device, replacing the base's when given (`[]` drops
    /// them).
    #[serde(default)]
    pub identify: Option<Vec<RawCheck>>,
}

/// `connection:` of a variant: every key optional, each given one replacing the base's.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "ConnectionPatch"))]
pub struct RawConnectionPatch {
    /// `modbus-tcp`, `rtu-over-tcp`, `serial-rtu` or `givenergy-dongle`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::transport"))]
    pub transport: Option<String>,
    /// TCP port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Unit roles and their default ids.
    #[serde(default)]
    pub unit_ids: Option<Ordered<u8>>,
    /// The main unit role.
    #[serde(default)]
    pub main_unit: Option<String>,
    /// More unit ids a role may take.
    #[serde(default)]
    pub extra_unit_ids: Option<Ordered<Vec<u8>>>,
    /// How the document numbers registers.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::address_base_patch")
    )]
    pub address_base: Option<RawAddressBase>,
    /// Word order.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::order"))]
    pub order: Option<String>,
    /// Registers per request.
    #[serde(default)]
    pub max_registers: Option<u16>,
    /// Bits per request.
    #[serde(default)]
    pub max_bits: Option<u16>,
    /// Whether a request may read through unmapped registers.
    #[serde(default)]
    pub span_gaps: Option<bool>,
    /// The widest gap read through.
    #[serde(default)]
    pub max_gap: Option<u16>,
    /// Requests stay within pages of this size.
    #[serde(default)]
    pub page_size: Option<u16>,
    /// Pause between requests.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub pacing: Option<String>,
    /// Time allowed per request.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub timeout: Option<String>,
    /// Connections the device allows.
    #[serde(default)]
    pub max_connections: Option<u16>,
    /// The device closes a connection idle this long.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub idle_timeout: Option<String>,
    /// Whole blocks the device answers, replacing the base's list.
    #[serde(default)]
    pub blocks: Option<Vec<RawBlock>>,
    /// The read-back window of writes.
    #[serde(default)]
    pub write_confirm: Option<RawWriteConfirm>,
}

/// One entry of `checks:`: a register and what it must hold. Exactly one of `equals`,
/// `one_of`, `matches`, or `min`/`max` (either or both).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Check"))]
pub struct RawCheck {
    /// A readable register of the map.
    pub register: String,
    /// The one value it must hold: a number, or text for a text register.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::check_value")
    )]
    pub equals: Option<serde_yaml::Value>,
    /// The values it may hold.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::check_values")
    )]
    pub one_of: Option<Vec<serde_yaml::Value>>,
    /// A pattern text must match (`*` any run of characters, `?` one character), or a list
    /// of patterns of which one must match.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::check_patterns")
    )]
    pub matches: Option<serde_yaml::Value>,
    /// The lowest value allowed (inclusive).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::check_bound")
    )]
    pub min: Option<serde_yaml::Value>,
    /// The highest value allowed (inclusive).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::check_bound")
    )]
    pub max: Option<serde_yaml::Value>,
    /// Why the check holds for this device, shown when it fails (e.g. `SunSpec marker`).
    #[serde(default)]
    pub why: Option<String>,
}

/// `valid:` of a register: the range of raw-decoded values the standard allows.
#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Valid"))]
pub struct RawValid {
    /// The lowest valid value (inclusive).
    #[serde(default)]
    pub min: Option<f64>,
    /// The highest valid value (inclusive).
    #[serde(default)]
    pub max: Option<f64>,
}

/// `output:` of a map: presentation preferences of the tools the device's users come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Output"))]
pub struct RawOutput {
    /// What JSON prints for an enumeration: `value` (the number, as the Alfen and Vestel tools
    /// print it; the default) or `label` (`"Mode": "Eco"`, as GivTCP prints it).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::json_enums")
    )]
    pub json_enums: Option<String>,
}

/// A value computed from other registers' values after a read.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Derived"))]
pub struct RawDerived {
    /// Stable key in every output, unique among registers and derived values.
    pub name: String,
    /// Human label for text output.
    #[serde(default)]
    pub title: Option<String>,
    /// Where the value goes in nested output, e.g. `Power/Flows`.
    #[serde(default)]
    pub group: Option<String>,
    /// The key within its group in nested output (default: the name).
    #[serde(default)]
    pub key: Option<String>,
    /// Physical unit of the value.
    #[serde(default)]
    pub unit: Option<String>,
    /// `measurement` (default), `counter` or `state`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::kind"))]
    pub kind: Option<String>,
    /// Labels for whole-number results: `{1: Eco, 2: Timed Demand}`.
    #[serde(default, rename = "enum")]
    pub enumeration: Option<Ordered<String>>,
    /// What the value means.
    #[serde(default)]
    pub description: Option<String>,
    /// The expression over registers' values (after scale, in their units) and earlier derived
    /// values: `+ - * /`, parentheses, `min`, `max`, `abs`, `if(cond, then, else)` and
    /// comparisons.
    pub expr: String,
}

/// `connection:` of a map.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Connection"))]
pub struct RawConnection {
    /// `modbus-tcp`, `rtu-over-tcp`, `serial-rtu` or `givenergy-dongle`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::transport"))]
    pub transport: Option<String>,
    /// TCP port (default 502, 8899 for the GivEnergy dongle).
    #[serde(default)]
    pub port: Option<u16>,
    /// Named Modbus unit ids, e.g. `{station: 200, socket: 1}`.
    pub unit_ids: Ordered<u8>,
    /// The role a register uses when it names none, and the one `--unit N` replaces.
    #[serde(default)]
    pub main_unit: Option<String>,
    /// Other unit ids a role may answer at with the same registers, e.g. `{socket: [2]}` for
    /// the second socket of a dual station. Simulators serve them too.
    #[serde(default)]
    pub extra_unit_ids: Option<Ordered<Vec<u8>>>,
    /// What the document's first register is called: 0, 1, 30001, 40001, ..., or `modicon`
    /// (the leading digit of each address picks its table: 3xxxx input, 4xxxx holding, ...).
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::address_base")
    )]
    pub address_base: RawAddressBase,
    /// Byte and word order of multi-register values (default ABCD).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::order"))]
    pub order: Option<String>,
    /// Most registers in one read request (default 125).
    #[serde(default)]
    pub max_registers: Option<u16>,
    /// Most coils or discrete inputs in one read request (default 2000).
    #[serde(default)]
    pub max_bits: Option<u16>,
    /// Whether a read may cover addresses the map does not declare (default false).
    #[serde(default)]
    pub span_gaps: Option<bool>,
    /// The longest run of undeclared registers one request may bridge.
    #[serde(default)]
    pub max_gap: Option<u16>,
    /// Requests stay within pages of this many registers, counted from address 0.
    #[serde(default)]
    pub page_size: Option<u16>,
    /// Least time between two requests, e.g. `250ms`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub pacing: Option<String>,
    /// Time allowed for each request, e.g. `3s`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub timeout: Option<String>,
    /// Most TCP connections the device accepts at once (default 1).
    #[serde(default)]
    pub max_connections: Option<u16>,
    /// The device closes a connection idle this long, e.g. `60s`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub idle_timeout: Option<String>,
    /// Whole blocks of registers the device answers, zeros for the words no register
    /// declares (simulators serve them; clients of other tools read them).
    #[serde(default)]
    pub blocks: Vec<RawBlock>,
    /// How long a write may take to show when read back, e.g. `{within: 3s}`.
    #[serde(default)]
    pub write_confirm: Option<RawWriteConfirm>,
}

/// One `connection.blocks` entry: registers `from` to `to` (wire addresses, inclusive) of
/// `table` at unit role `unit`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Block"))]
pub struct RawBlock {
    /// The unit role (default: the main unit).
    #[serde(default)]
    pub unit: Option<String>,
    /// `holding` or `input` (also `coil`, `discrete`).
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::table"))]
    pub table: String,
    /// First wire address of the block.
    pub from: u16,
    /// Last wire address of the block.
    pub to: u16,
}

/// `connection.write_confirm`: the read-back window of writes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "WriteConfirm"))]
pub struct RawWriteConfirm {
    /// Keep reading back for this long before a write counts as not confirmed, e.g. `3s`
    /// (default 1s).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub within: Option<String>,
    /// Time between two read-backs, e.g. `500ms` (default 250ms).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub every: Option<String>,
}

/// `defaults:` of a map.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Defaults"))]
pub struct RawDefaults {
    /// Table of registers that name none.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::table"))]
    pub table: Option<String>,
    /// Unit role of registers that name none (instead of `connection.main_unit`).
    #[serde(default)]
    pub unit_id: Option<RawUnitRef>,
}

/// A block of registers repeated once per unit role.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Repeat"))]
pub struct RawRepeat {
    /// Unit roles from `connection.unit_ids`; the block is read from each. In the block's text,
    /// `{n}` is the role's position (1, 2, ...) and `{unit}` its name.
    #[serde(rename = "for")]
    pub for_units: Vec<String>,
    /// The registers of one unit, with `{n}` or `{unit}` in their names.
    pub registers: Vec<RawRegister>,
}

/// A unit role name or a literal unit id.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(untagged))]
#[cfg_attr(feature = "schema", schemars(rename = "UnitRef"))]
pub enum RawUnitRef {
    /// A literal unit id.
    Id(u8),
    /// A role from `connection.unit_ids`.
    Role(String),
}

/// `connection.address_base`: a number, or a word (`modicon`) the loader checks.
#[derive(Debug, Clone)]
pub enum RawAddressBase {
    /// Subtracted from every address.
    Number(u32),
    /// A named numbering scheme.
    Name(String),
}

/// A number or the name of a register.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(untagged))]
#[cfg_attr(feature = "schema", schemars(rename = "NumberOrName"))]
pub enum RawNumberOrName {
    /// A number.
    Number(f64),
    /// The name of another register.
    Name(String),
}

/// One register.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Register"))]
pub struct RawRegister {
    /// Stable key in every output.
    pub name: String,
    /// Human label for text output.
    #[serde(default)]
    pub title: Option<String>,
    /// The address as the document prints it.
    pub address: u32,
    /// `holding`, `input`, `coil` or `discrete`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::table"))]
    pub table: Option<String>,
    /// A role from `connection.unit_ids`, or a literal unit id.
    #[serde(default)]
    pub unit_id: Option<RawUnitRef>,
    /// The data type.
    #[serde(default, rename = "type")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::data_type"))]
    pub data_type: Option<String>,
    /// Number of registers (required for strings).
    #[serde(default)]
    pub count: Option<u16>,
    /// Order override.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::order"))]
    pub order: Option<String>,
    /// A factor, or the name of a power-of-ten scale-factor register.
    #[serde(default)]
    pub scale: Option<RawNumberOrName>,
    /// Added after scaling.
    #[serde(default)]
    pub offset: Option<f64>,
    /// Physical unit after scaling.
    #[serde(default)]
    pub unit: Option<String>,
    /// Labels for raw integer values.
    #[serde(default, rename = "enum")]
    pub enumeration: Option<Ordered<String>>,
    /// Labels for bits, by bit number.
    #[serde(default)]
    pub flags: Option<Ordered<String>>,
    /// Raw values that mean "not available": numbers, `all-ones` or `nan`.
    #[serde(default)]
    pub sentinels: Vec<RawSentinel>,
    /// The values the standard allows (a SunSpec scale factor: -10..10); any other value
    /// is reported missing with the reason.
    #[serde(default)]
    pub valid: Option<RawValid>,
    /// `hhmm`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::format"))]
    pub format: Option<String>,
    /// `measurement`, `counter`, `state`, `text` or `setting`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::kind"))]
    pub kind: Option<String>,
    /// `r`, `rw` or `w`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::access"))]
    pub access: Option<String>,
    /// Write constraints.
    #[serde(default)]
    pub write: Option<RawWrite>,
    /// Where the value goes in nested output, e.g. `Energy/Today`.
    #[serde(default)]
    pub group: Option<String>,
    /// The key within its group in nested output (default: the name), e.g. `Battery_SOC` for
    /// `Battery_1_SOC` in `Battery_Details/Battery_1`.
    #[serde(default)]
    pub key: Option<String>,
    /// The phase the value belongs to: `L1`, `L2`, `L3`, `N`, `L1N`, `L2N`, `L3N`, `L1L2`,
    /// `L2L3`, `L3L1` (the Prometheus `phase` label; default: inferred from the name).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::phase"))]
    pub phase: Option<String>,
    /// What the value stands for in a site overview: `grid_power` (positive importing),
    /// `pv_power`, `battery_power` (positive discharging), `battery_soc`, `charging_power`,
    /// `load_power`, `import_energy`, `export_energy`; `-grid_power` when the register counts
    /// the other way round.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::role"))]
    pub role: Option<String>,
    /// What the register means.
    #[serde(default)]
    pub description: Option<String>,
    /// A typical value in the register's unit.
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::example"))]
    pub example: serde_yaml::Value,
}

/// A sentinel: a raw number, or a word such as `all-ones`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(untagged))]
#[cfg_attr(feature = "schema", schemars(rename = "Sentinel"))]
pub enum RawSentinel {
    /// A raw pattern.
    Unsigned(u64),
    /// A negative raw pattern, as two's complement.
    Signed(i64),
    /// `all-ones`, `nan`, or a number written as text.
    Word(String),
}

/// `write:` of a register.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Write"))]
pub struct RawWrite {
    /// Lower bound: a number or a register name.
    #[serde(default)]
    pub min: Option<RawNumberOrName>,
    /// Upper bound: a number or a register name.
    #[serde(default)]
    pub max: Option<RawNumberOrName>,
    /// Allowed increments from `min`.
    #[serde(default)]
    pub step: Option<f64>,
    /// Extra values allowed outside the bounds.
    #[serde(default)]
    pub also: Vec<f64>,
    /// `true`, `false`, or the register that shows the applied value.
    #[serde(default)]
    pub read_back: Option<RawReadBack>,
}

/// `read_back:` of a write.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(untagged))]
#[cfg_attr(feature = "schema", schemars(rename = "ReadBack"))]
pub enum RawReadBack {
    /// Read the written register back (or not).
    Flag(bool),
    /// Read this other register back.
    Register(String),
}

/// One heartbeat.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Heartbeat"))]
pub struct RawHeartbeat {
    /// Name for logs and docs.
    pub name: String,
    /// Registers and values to write.
    #[serde(default)]
    pub write: Option<Ordered<RawNumberOrName>>,
    /// A register whose last written value is written again.
    #[serde(default)]
    pub refresh: Option<String>,
    /// A duration, or `<register> / <number>`.
    pub every: String,
    /// With an expression: never more often than this.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub min: Option<String>,
    /// With an expression: the interval while the register is unknown, missing or zero.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "crate::schema::duration"))]
    pub fallback: Option<String>,
    /// What the heartbeat is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// One action.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Action"))]
pub struct RawAction {
    /// What the action does.
    #[serde(default)]
    pub description: Option<String>,
    /// Typed parameters, by name.
    #[serde(default)]
    pub params: Ordered<RawParam>,
    /// Steps, run in order.
    pub writes: Vec<RawStep>,
}

/// One action parameter.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Param"))]
pub struct RawParam {
    /// `int`, `number`, `percent`, `bool`, `hhmm`, `datetime` or `enum`.
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(schema_with = "crate::schema::param_type")
    )]
    pub param_type: String,
    /// Lowest value allowed.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest value allowed.
    #[serde(default)]
    pub max: Option<f64>,
    /// Allowed increments from `min`.
    #[serde(default)]
    pub step: Option<f64>,
    /// For `enum`: label to number.
    #[serde(default)]
    pub values: Option<Ordered<i64>>,
    /// The parameter may be left out.
    #[serde(default)]
    pub optional: bool,
    /// What the parameter means.
    #[serde(default)]
    pub description: Option<String>,
}

/// One step of an action.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Step"))]
pub struct RawStep {
    /// A condition; the step writes nothing when it is false.
    #[serde(default)]
    pub when: Option<String>,
    /// Register name to value expression, written in this order.
    pub set: Ordered<RawExpr>,
}

/// An expression: a number, or text to parse.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(untagged))]
#[cfg_attr(feature = "schema", schemars(rename = "Expr"))]
pub enum RawExpr {
    /// A literal number.
    Number(f64),
    /// An expression over parameters.
    Text(String),
}

/// A YAML mapping that keeps its order, with keys written as text or numbers.
///
/// Keys are kept as their text (`0`, `Charging`, `station`), so enumerations keyed by numbers
/// and parameter maps keyed by names share one type.
#[derive(Debug, Clone)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<Key>()? {
                    if entries.iter().any(|(k, _)| *k == key.0) {
                        return Err(de::Error::custom(format_args!("duplicate key `{}`", key.0)));
                    }
                    let value = map.next_value()?;
                    entries.push((key.0, value));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// A mapping key as text, whether YAML wrote it as a string, an integer or a boolean.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(feature = "schema")]
impl<V: schemars::JsonSchema> schemars::JsonSchema for Ordered<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, V>>::json_schema(generator)
    }
}

/// Implements `Deserialize` for a scalar that may be a number or text, with a precise error
/// (serde's `untagged` loses both the location and the reason).
macro_rules! scalar {
    ($ty:ident, $expecting:literal, |$v:ident| { u64 => $u:expr, i64 => $i:expr, f64 => $f:expr, str => $s:expr, bool => $b:expr $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    #[allow(unused_variables)]
                    fn visit_u64<E: de::Error>(self, $v: u64) -> Result<$ty, E> {
                        let r: Option<$ty> = $u;
                        r.ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned($v), &self))
                    }
                    #[allow(unused_variables)]
                    fn visit_i64<E: de::Error>(self, $v: i64) -> Result<$ty, E> {
                        let r: Option<$ty> = $i;
                        r.ok_or_else(|| E::invalid_value(de::Unexpected::Signed($v), &self))
                    }
                    #[allow(unused_variables)]
                    fn visit_f64<E: de::Error>(self, $v: f64) -> Result<$ty, E> {
                        let r: Option<$ty> = $f;
                        r.ok_or_else(|| E::invalid_value(de::Unexpected::Float($v), &self))
                    }
                    #[allow(unused_variables)]
                    fn visit_str<E: de::Error>(self, $v: &str) -> Result<$ty, E> {
                        let r: Option<$ty> = $s;
                        r.ok_or_else(|| E::invalid_value(de::Unexpected::Str($v), &self))
                    }
                    #[allow(unused_variables)]
                    fn visit_bool<E: de::Error>(self, $v: bool) -> Result<$ty, E> {
                        let r: Option<$ty> = $b;
                        r.ok_or_else(|| E::invalid_type(de::Unexpected::Bool($v), &self))
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

scalar!(RawUnitRef, "a unit role name or a unit id from 0 to 255", |v| {
    u64 => u8::try_from(v).ok().map(RawUnitRef::Id),
    i64 => u8::try_from(v).ok().map(RawUnitRef::Id),
    f64 => None,
    str => Some(RawUnitRef::Role(v.to_owned())),
    bool => None,
});

scalar!(RawAddressBase, "a whole number from 0 to 4294967295, or `modicon`", |v| {
    u64 => u32::try_from(v).ok().map(RawAddressBase::Number),
    i64 => u32::try_from(v).ok().map(RawAddressBase::Number),
    f64 => None,
    str => Some(RawAddressBase::Name(v.to_owned())),
    bool => None,
});

scalar!(RawNumberOrName, "a number or a register name", |v| {
    u64 => Some(RawNumberOrName::Number(v as f64)),
    i64 => Some(RawNumberOrName::Number(v as f64)),
    f64 => Some(RawNumberOrName::Number(v)),
    str => Some(RawNumberOrName::Name(v.to_owned())),
    bool => None,
});

scalar!(RawSentinel, "a raw pattern such as 0xFFFF or -32768, `all-ones` or `nan`", |v| {
    u64 => Some(RawSentinel::Unsigned(v)),
    i64 => Some(RawSentinel::Signed(v)),
    f64 => None,
    str => Some(RawSentinel::Word(v.to_owned())),
    bool => None,
});

scalar!(RawReadBack, "true, false or a register name", |v| {
    u64 => None,
    i64 => None,
    f64 => None,
    str => Some(RawReadBack::Register(v.to_owned())),
    bool => Some(RawReadBack::Flag(v)),
});

scalar!(RawExpr, "a number or an expression such as `start` or `dateTime.year - 2000`", |v| {
    u64 => Some(RawExpr::Number(v as f64)),
    i64 => Some(RawExpr::Number(v as f64)),
    f64 => Some(RawExpr::Number(v)),
    str => Some(RawExpr::Text(v.to_owned())),
    bool => None,
});
