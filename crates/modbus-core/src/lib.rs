//! Modbus register values without any I/O.
//!
//! A Modbus device hands out 16-bit words; everything a person cares about (a FLOAT32 voltage in
//! swapped word order, a serial number packed two characters per register, a flag in a bit
//! field) is an interpretation of those words. This crate owns that interpretation, in both
//! directions, plus the planner that turns "these registers" into the fewest requests a device
//! allows. It never opens a socket and never depends on an async runtime.
//!
//! # Main types
//!
//! - [`Table`], [`DataType`] and [`Order`]: the vocabulary of a register. Each parses from the
//!   names datasheets and other tools use (`"swapped words"`, `"word_byte"`, `"4x"`, `"acc32"`)
//!   and prints one canonical name (`CDAB`, `holding`, `uint32`).
//! - [`Codec`]: one register's type, count, order, scale, offset and [`Sentinel`]s.
//!   [`Codec::decode`] turns `&[u16]` into `Option<`[`Value`]`>`, where `None` means "missing"
//!   (a sentinel or NaN matched), never zero; [`Codec::encode`] goes back and refuses values that
//!   do not fit.
//! - [`plan`] with [`Span`] and [`Limits`]: the fewest [`ReadRequest`]s that cover a set of
//!   register spans, and a [`Plan`] that cuts the responses back into per-span words.
//!   [`plan_with_mapped`] also knows which unneeded registers exist, so a device that refuses
//!   reads of unmapped addresses can still be read through registers nobody asked for.
//!
//! # Key design decision
//!
//! Values keep their kind: an unscaled integer decodes to an exact [`Value::Int`] or
//! [`Value::UInt`] (a `uint64` keeps all 64 bits), and only floats or scaled numbers become
//! [`Value::Float`]. "Not available" is `None`, a different thing from `0`, because a silent zero
//! on a meter reading is worse than a gap. Every decoder is total: arbitrary words give a value,
//! `None` or a typed error, never a panic (property-tested).
//!
//! The planner is optimal, not merely good: it produces the minimum number of requests for the
//! device's limits (request size, gap spanning, page alignment), which the property tests check
//! against an exhaustive search.
//!
//! # Example
//!
//! ```
//! use modbus_core::{plan, Codec, DataType, Gaps, Limits, Order, Span, Table, Value};
//!
//! // Two FLOAT32 values in swapped word order, one unit, one table.
//! let spans = [Span::new(1, Table::Input, 0, 2), Span::new(1, Table::Input, 6, 2)];
//! let plan = plan(&spans, &Limits { gaps: Gaps::UpTo(8), ..Limits::default() })?;
//! assert_eq!(plan.len(), 1);
//!
//! // The device answers the single request (addresses 0..=7).
//! let responses = [vec![0x0000, 0x4366, 0, 0, 0, 0, 0x0000, 0x40A0]];
//! let words = plan.split(&responses)?;
//! let codec = Codec::new(DataType::Float32, Order::Cdab)?;
//! assert_eq!(codec.decode(words[0])?, Some(Value::Float(230.0)));
//! assert_eq!(codec.decode(words[1])?, Some(Value::Float(5.0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod codec;
mod error;
mod plan;
mod types;
mod value;

pub use codec::{Codec, Sentinel};
pub use error::{CodecError, DecodeError, EncodeError, ParseError, PlanError};
pub use plan::{Gaps, Limits, Placement, Plan, ReadRequest, Span, plan, plan_with_mapped};
pub use types::{DataType, Order, Table};
pub use value::Value;

/// The examples in the crate's README run as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
