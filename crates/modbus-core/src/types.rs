//! The vocabulary of a register: which table it lives in, how its words are typed, and in which
//! byte and word order they arrive.
//!
//! Every enum here parses from the names users meet in datasheets and other tools ([`FromStr`]),
//! case-insensitively and with `-`, `_` and spaces treated alike, and prints one canonical name
//! ([`Display`](fmt::Display)), so a YAML map and an error message speak the same language.

use std::fmt;
use std::str::FromStr;

use crate::error::{CodecError, ParseError};

/// Lower-cases `input` and maps `-`, ` ` and `.` to `_`, so `Big-Endian`, `big endian` and
/// `big_endian` are one name.
fn normalise(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// One of the four Modbus data tables.
///
/// Coils and discrete inputs hold single bits; input and holding registers hold 16-bit words.
///
/// ```
/// use modbus_core::Table;
///
/// let table: Table = "Holding Register".parse()?;
/// assert_eq!(table, Table::Holding);
/// assert_eq!(table.to_string(), "holding");
/// assert_eq!(table.read_function_code(), 3);
/// assert_eq!("4x".parse::<Table>()?, Table::Holding);
/// # Ok::<(), modbus_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Read-write single bits (function codes 1, 5, 15).
    Coil,
    /// Read-only single bits (function code 2).
    Discrete,
    /// Read-only 16-bit registers (function code 4).
    Input,
    /// Read-write 16-bit registers (function codes 3, 6, 16).
    Holding,
}

impl Table {
    /// Every table, in the order of their read function codes.
    pub const ALL: [Table; 4] = [Table::Coil, Table::Discrete, Table::Holding, Table::Input];

    /// The canonical name, as [`Display`](fmt::Display) prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Table::Coil => "coil",
            Table::Discrete => "discrete",
            Table::Input => "input",
            Table::Holding => "holding",
        }
    }

    /// True for the single-bit tables (coils and discrete inputs).
    pub const fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::Discrete)
    }

    /// True when the Modbus master may write this table (coils and holding registers).
    pub const fn is_writable(self) -> bool {
        matches!(self, Table::Coil | Table::Holding)
    }

    /// The function code that reads this table: 1 coils, 2 discrete inputs, 3 holding
    /// registers, 4 input registers.
    pub const fn read_function_code(self) -> u8 {
        match self {
            Table::Coil => 1,
            Table::Discrete => 2,
            Table::Holding => 3,
            Table::Input => 4,
        }
    }

    /// The most items one read request may return by the Modbus specification: 2000 bits or
    /// 125 registers.
    pub const fn protocol_max_count(self) -> u16 {
        if self.is_bits() { 2000 } else { 125 }
    }

    /// A small dense index (0..4), handy for tables keyed by table.
    pub const fn index(self) -> usize {
        match self {
            Table::Coil => 0,
            Table::Discrete => 1,
            Table::Input => 2,
            Table::Holding => 3,
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let table = match normalise(s).as_str() {
            "holding" | "holding_register" | "holding_registers" | "hr" | "4x" | "holdings" => {
                Table::Holding
            }
            "input" | "input_register" | "input_registers" | "ir" | "3x" | "inputs" => Table::Input,
            "coil" | "coils" | "co" | "0x" => Table::Coil,
            "discrete" | "discrete_input" | "discrete_inputs" | "di" | "1x" | "discretes" => {
                Table::Discrete
            }
            _ => {
                return Err(ParseError::new(
                    "table",
                    s,
                    "holding (hr, 4x), input (ir, 3x), coil (0x), discrete (di, 1x)",
                ));
            }
        };
        Ok(table)
    }
}

/// How the words of one register value are to be read.
///
/// Numeric types have a fixed width. Strings have the width the device map gives them: `String`
/// packs two 8-bit characters per register (high byte first), `String1` holds one character per
/// register (a UTF-16 code unit, so ASCII sits in the low byte). Bit fields are the flags of a
/// 16- or 32-bit register pair.
///
/// ```
/// use modbus_core::DataType;
///
/// let ty: DataType = "FLOAT32".parse()?;
/// assert_eq!(ty, DataType::Float32);
/// assert_eq!(ty.fixed_registers(), Some(2));
/// assert_eq!(DataType::String.fixed_registers(), None);
/// assert_eq!(DataType::String.registers(Some(17)).unwrap(), 17);
/// assert!(DataType::Float32.registers(Some(4)).is_err());
/// assert_eq!(ty.to_string(), "float32");
/// # Ok::<(), modbus_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// Signed 16-bit integer, one register.
    Int16,
    /// Unsigned 16-bit integer, one register.
    UInt16,
    /// Signed 32-bit integer, two registers.
    Int32,
    /// Unsigned 32-bit integer, two registers (also SunSpec's `acc32`).
    UInt32,
    /// Signed 64-bit integer, four registers.
    Int64,
    /// Unsigned 64-bit integer, four registers.
    UInt64,
    /// IEEE 754 single precision, two registers.
    Float32,
    /// IEEE 754 double precision, four registers.
    Float64,
    /// Text, two 8-bit characters per register, high byte first; any number of registers.
    String,
    /// Text, one character (UTF-16 code unit) per register; any number of registers.
    String1,
    /// The 16 flags of one register.
    Bits16,
    /// The 32 flags of two registers.
    Bits32,
}

impl DataType {
    /// Every data type, in declaration order.
    pub const ALL: [DataType; 12] = [
        DataType::Int16,
        DataType::UInt16,
        DataType::Int32,
        DataType::UInt32,
        DataType::Int64,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::String,
        DataType::String1,
        DataType::Bits16,
        DataType::Bits32,
    ];

    /// The canonical name, as [`Display`](fmt::Display) prints it.
    pub const fn name(self) -> &'static str {
        match self {
            DataType::Int16 => "int16",
            DataType::UInt16 => "uint16",
            DataType::Int32 => "int32",
            DataType::UInt32 => "uint32",
            DataType::Int64 => "int64",
            DataType::UInt64 => "uint64",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::String => "string",
            DataType::String1 => "string1",
            DataType::Bits16 => "bits16",
            DataType::Bits32 => "bits32",
        }
    }

    /// The number of registers the type always takes, or `None` for strings, whose length the
    /// device map states.
    pub const fn fixed_registers(self) -> Option<u16> {
        match self {
            DataType::Int16 | DataType::UInt16 | DataType::Bits16 => Some(1),
            DataType::Int32 | DataType::UInt32 | DataType::Float32 | DataType::Bits32 => Some(2),
            DataType::Int64 | DataType::UInt64 | DataType::Float64 => Some(4),
            DataType::String | DataType::String1 => None,
        }
    }

    /// The register count of a value of this type, given the count a map declares (if any).
    ///
    /// Fixed-width types accept no count or exactly their width; strings need a count of at
    /// least one.
    pub fn registers(self, declared: Option<u16>) -> Result<u16, CodecError> {
        match (self.fixed_registers(), declared) {
            (Some(width), None) => Ok(width),
            (Some(width), Some(count)) if count == width => Ok(width),
            (Some(width), Some(count)) => Err(CodecError::CountMismatch {
                data_type: self,
                expected: width,
                declared: count,
            }),
            (None, None) => Err(CodecError::MissingCount { data_type: self }),
            (None, Some(0)) => Err(CodecError::ZeroCount { data_type: self }),
            (None, Some(count)) => Ok(count),
        }
    }

    /// Width of the raw value in bits for numeric and bit-field types (16, 32 or 64), `None`
    /// for strings.
    pub const fn bits(self) -> Option<u32> {
        match self.fixed_registers() {
            Some(regs) => Some(regs as u32 * 16),
            None => None,
        }
    }

    /// True for the six integer types (not bit fields).
    pub const fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::Int16
                | DataType::UInt16
                | DataType::Int32
                | DataType::UInt32
                | DataType::Int64
                | DataType::UInt64
        )
    }

    /// True for the signed integer types.
    pub const fn is_signed(self) -> bool {
        matches!(self, DataType::Int16 | DataType::Int32 | DataType::Int64)
    }

    /// True for FLOAT32 and FLOAT64.
    pub const fn is_float(self) -> bool {
        matches!(self, DataType::Float32 | DataType::Float64)
    }

    /// True for integers and floats: the types scale and offset apply to.
    pub const fn is_numeric(self) -> bool {
        self.is_integer() || self.is_float()
    }

    /// True for the two string packings.
    pub const fn is_text(self) -> bool {
        matches!(self, DataType::String | DataType::String1)
    }

    /// True for the two bit-field types.
    pub const fn is_bits(self) -> bool {
        matches!(self, DataType::Bits16 | DataType::Bits32)
    }

    /// How many characters (bytes for `String`, UTF-16 units for `String1`) fit in `registers`.
    /// `None` for non-text types.
    pub const fn max_chars(self, registers: u16) -> Option<usize> {
        match self {
            DataType::String => Some(registers as usize * 2),
            DataType::String1 => Some(registers as usize),
            _ => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DataType {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ty = match normalise(s).as_str() {
            "int16" | "i16" | "short" | "sint16" | "s16" => DataType::Int16,
            "uint16" | "u16" | "word" | "ushort" => DataType::UInt16,
            "int32" | "i32" | "dint" | "sint32" | "s32" | "long" => DataType::Int32,
            "uint32" | "u32" | "dword" | "udint" | "acc32" | "ulong" => DataType::UInt32,
            "int64" | "i64" | "lint" | "sint64" | "s64" => DataType::Int64,
            "uint64" | "u64" | "ulint" | "acc64" | "qword" => DataType::UInt64,
            "float32" | "f32" | "float" | "real" => DataType::Float32,
            "float64" | "f64" | "double" | "lreal" => DataType::Float64,
            "string" | "string2" | "str" | "ascii" => DataType::String,
            "string1" | "str1" | "utf16" | "utf_16" | "string_1" => DataType::String1,
            "bits16" | "bitfield16" | "bitmask16" | "flags16" | "bitfield" | "bitmask" => {
                DataType::Bits16
            }
            "bits32" | "bitfield32" | "bitmask32" | "flags32" => DataType::Bits32,
            _ => {
                return Err(ParseError::new(
                    "data type",
                    s,
                    "int16, uint16, int32, uint32, int64, uint64, float32, float64, \
                     string (2 chars/register), string1 (1 char/register), bits16, bits32",
                ));
            }
        };
        Ok(ty)
    }
}

/// Byte order inside a register and word order across registers, named by where the bytes of
/// the big-endian value `A B C D` (A most significant) land on the wire.
///
/// | order | wire bytes | also called |
/// |---|---|---|
/// | `ABCD` | A B C D | big endian, network order, high word first |
/// | `CDAB` | C D A B | swapped words, little-endian word order, `word` (Home Assistant) |
/// | `BADC` | B A D C | swapped bytes, `byte` (Home Assistant) |
/// | `DCBA` | D C B A | little endian, `word_byte` (Home Assistant) |
///
/// For 64-bit values, a word swap reverses all four words (`CDAB` sends `GH EF CD AB` for
/// `AB CD EF GH`), as pymodbus' little word order does. For single-register values only the
/// byte order matters; for `string` values the byte order applies to each register and the
/// word order is ignored.
///
/// ```
/// use modbus_core::Order;
///
/// assert_eq!("swapped words".parse::<Order>()?, Order::Cdab);
/// assert_eq!("word_byte".parse::<Order>()?, Order::Dcba);
/// assert_eq!("little-endian".parse::<Order>()?, Order::Dcba);
/// assert_eq!(Order::Cdab.to_string(), "CDAB");
/// assert_eq!(Order::Cdab.u32_from([0x0000, 0x4148]), 0x4148_0000);
/// # Ok::<(), modbus_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Order {
    /// Big endian: high byte first, high word first.
    #[default]
    Abcd,
    /// High byte first, low word first.
    Cdab,
    /// Low byte first, high word first.
    Badc,
    /// Little endian: low byte first, low word first.
    Dcba,
}

impl Order {
    /// Every order.
    pub const ALL: [Order; 4] = [Order::Abcd, Order::Cdab, Order::Badc, Order::Dcba];

    /// The order with the given swaps.
    pub const fn from_swaps(swap_bytes: bool, swap_words: bool) -> Order {
        match (swap_bytes, swap_words) {
            (false, false) => Order::Abcd,
            (false, true) => Order::Cdab,
            (true, false) => Order::Badc,
            (true, true) => Order::Dcba,
        }
    }

    /// The canonical name, as [`Display`](fmt::Display) prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Order::Abcd => "ABCD",
            Order::Cdab => "CDAB",
            Order::Badc => "BADC",
            Order::Dcba => "DCBA",
        }
    }

    /// True when the two bytes of each register arrive low byte first.
    pub const fn swaps_bytes(self) -> bool {
        matches!(self, Order::Badc | Order::Dcba)
    }

    /// True when the registers of a multi-register value arrive low word first.
    pub const fn swaps_words(self) -> bool {
        matches!(self, Order::Cdab | Order::Dcba)
    }

    /// One register as its value: swaps the bytes when the order says so.
    #[inline]
    pub const fn u16_from(self, word: u16) -> u16 {
        if self.swaps_bytes() {
            word.swap_bytes()
        } else {
            word
        }
    }

    /// The register that carries `value` in this order (the inverse of [`Order::u16_from`]).
    #[inline]
    pub const fn u16_to(self, value: u16) -> u16 {
        self.u16_from(value)
    }

    /// Two registers, as received, to their 32-bit value.
    #[inline]
    pub const fn u32_from(self, words: [u16; 2]) -> u32 {
        self.reorder32(((words[0] as u32) << 16) | words[1] as u32)
    }

    /// The two registers, in wire order, that carry `value`.
    #[inline]
    pub const fn u32_to(self, value: u32) -> [u16; 2] {
        let wire = self.reorder32(value);
        [(wire >> 16) as u16, wire as u16]
    }

    /// Four registers, as received, to their 64-bit value.
    #[inline]
    pub const fn u64_from(self, words: [u16; 4]) -> u64 {
        self.reorder64(
            ((words[0] as u64) << 48)
                | ((words[1] as u64) << 32)
                | ((words[2] as u64) << 16)
                | words[3] as u64,
        )
    }

    /// The four registers, in wire order, that carry `value`.
    #[inline]
    pub const fn u64_to(self, value: u64) -> [u16; 4] {
        let wire = self.reorder64(value);
        [
            (wire >> 48) as u16,
            (wire >> 32) as u16,
            (wire >> 16) as u16,
            wire as u16,
        ]
    }

    /// Maps the registers read big-endian as one number to the value, and back: every order is
    /// its own inverse. `Abcd` keeps, `Dcba` reverses all bytes, `Cdab` swaps the two words,
    /// `Badc` swaps the bytes within each word.
    #[inline]
    const fn reorder32(self, v: u32) -> u32 {
        match self {
            Order::Abcd => v,
            Order::Cdab => v.rotate_left(16),
            Order::Badc => v.swap_bytes().rotate_left(16),
            Order::Dcba => v.swap_bytes(),
        }
    }

    /// [`Order::reorder32`] for four registers: a word swap reverses all four words.
    #[inline]
    const fn reorder64(self, v: u64) -> u64 {
        const LOW_BYTES: u64 = 0x00FF_00FF_00FF_00FF;
        const fn lanes_swapped(v: u64) -> u64 {
            ((v >> 8) & LOW_BYTES) | ((v & LOW_BYTES) << 8)
        }
        match self {
            Order::Abcd => v,
            Order::Cdab => lanes_swapped(v.swap_bytes()),
            Order::Badc => lanes_swapped(v),
            Order::Dcba => v.swap_bytes(),
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Order {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let order = match normalise(s).as_str() {
            "abcd" | "1234" | "big" | "big_endian" | "bigendian" | "be" | "network" | "none"
            | "msw" | "high_word_first" | "msw_first" | "big_big" => Order::Abcd,
            "cdab"
            | "3412"
            | "word"
            | "swap_word"
            | "swap_words"
            | "swapped_words"
            | "word_swap"
            | "word_swapped"
            | "words_swapped"
            | "little_word"
            | "lsw"
            | "low_word_first"
            | "lsw_first"
            | "big_endian_word_swap" => Order::Cdab,
            "badc"
            | "2143"
            | "byte"
            | "swap_byte"
            | "swap_bytes"
            | "swapped_bytes"
            | "byte_swap"
            | "byte_swapped"
            | "bytes_swapped"
            | "little_byte"
            | "big_endian_byte_swap" => Order::Badc,
            "dcba" | "4321" | "little" | "little_endian" | "littleendian" | "le" | "word_byte"
            | "byte_word" | "swap_all" | "swap_both" | "little_little" => Order::Dcba,
            _ => {
                return Err(ParseError::new(
                    "byte/word order",
                    s,
                    "ABCD (big endian), CDAB (swapped words, word), \
                     BADC (swapped bytes, byte), DCBA (little endian, word_byte)",
                ));
            }
        };
        Ok(order)
    }
}
