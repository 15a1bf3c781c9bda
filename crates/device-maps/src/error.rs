//! Errors of loading a map: each names the file, line and column, what is wrong and what is
//! allowed.

use std::fmt;
use std::path::PathBuf;

/// A map file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The file cannot be read.
    #[error("cannot read device map {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML, or does not have the shape of a map (an unknown key, a missing
    /// key, a number where text belongs). The summary says everything the YAML parser said, in
    /// a newcomer's words, and `line` and `column` say where, so the parser's error is no cause
    /// of its own unless it has one (it is not printed twice).
    #[error("{file}:{line}:{column}: {summary}")]
    Syntax {
        /// The file (or name of the text).
        file: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// The problem in a newcomer's words.
        summary: String,
        /// The YAML parser's own error, kept only when it has a cause the summary does not
        /// carry.
        #[source]
        source: Option<Box<serde_yaml::Error>>,
    },
    /// The YAML has the right shape but breaks a rule of the format.
    #[error("{file}:{line}:{column}: {}{problem}{}", Context(.register), Allowed(.allowed))]
    Invalid {
        /// The file (or name of the text).
        file: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// The register (or heartbeat or action, as `heartbeat alive`) concerned, if any.
        register: Option<String>,
        /// What is wrong.
        problem: String,
        /// What is allowed instead.
        allowed: Option<String>,
    },
    /// Several mistakes, each with its own file, line and column, in file order.
    #[error("{file}: {} mistakes{}:{}", errors.len() + omitted, Omitted(*omitted), List(errors))]
    Several {
        /// The file (or name of the text).
        file: String,
        /// The mistakes reported, at most the cap.
        errors: Vec<MapError>,
        /// Mistakes found beyond the cap.
        omitted: usize,
    },
    /// The file name cannot be a map id.
    #[error("{}: `{id}` is not a usable map id (use lower-case letters, digits and `-`, as in `my-meter.yaml`)", path.display())]
    BadId {
        /// The file.
        path: PathBuf,
        /// The id taken from its name.
        id: String,
    },
}

impl MapError {
    /// One error for the mistakes found in `file`: the mistake itself when there is one, else
    /// [`MapError::Several`] with the first `cap` of them in file order.
    pub(crate) fn several(file: &str, mut errors: Vec<MapError>, cap: usize) -> MapError {
        errors.sort_by_key(|e| e.location().unwrap_or((usize::MAX, 0)));
        if errors.len() == 1
            && let Some(only) = errors.pop()
        {
            return only;
        }
        let omitted = errors.len().saturating_sub(cap);
        errors.truncate(cap);
        MapError::Several {
            file: file.to_owned(),
            errors,
            omitted,
        }
    }

    /// Every mistake: the several of [`MapError::Several`], or this one.
    pub fn mistakes(&self) -> Vec<&MapError> {
        match self {
            MapError::Several { errors, .. } => errors.iter().collect(),
            other => vec![other],
        }
    }

    /// The line and column the error points at, when it points into a file.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            MapError::Syntax { line, column, .. } | MapError::Invalid { line, column, .. } => {
                Some((*line, *column))
            }
            MapError::Several { errors, .. } => errors.first().and_then(MapError::location),
            MapError::Read { .. } | MapError::BadId { .. } => None,
        }
    }

    /// The register (or other item) the error is about.
    pub fn register(&self) -> Option<&str> {
        match self {
            MapError::Invalid { register, .. } => register.as_deref(),
            MapError::Several { errors, .. } => errors.first().and_then(MapError::register),
            _ => None,
        }
    }
}

struct Context<'a>(&'a Option<String>);

impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(item) if item.contains(' ') => write!(f, "{item}: "),
            Some(register) => write!(f, "register `{register}`: "),
            None => Ok(()),
        }
    }
}

struct Omitted(usize);

impl fmt::Display for Omitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " ({n} more not shown)"),
        }
    }
}

struct List<'a>(&'a [MapError]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

struct Allowed<'a>(&'a Option<String>);

impl fmt::Display for Allowed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(allowed) => write!(f, " (allowed: {allowed})"),
            None => Ok(()),
        }
    }
}

/// Rewrites a serde_yaml message for a newcomer: "unknown field" becomes "unknown key" with the
/// allowed keys, the trailing location is dropped (the error carries it separately).
pub(crate) fn summarise_yaml_error(err: &serde_yaml::Error) -> String {
    let mut message = err.to_string();
    // Drop the locations, trailing or not ("... at line 4 column 10, while parsing ..."): the
    // error carries its own.
    while let Some(at) = message.rfind(" at line ") {
        let tail = &message[at + " at line ".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || c.is_ascii_lowercase()))
            .unwrap_or(tail.len());
        message.replace_range(at..at + " at line ".len() + end, "");
    }
    // serde_yaml prefixes the path of the failing value: "registers[3]: unknown field ...".
    let (path, rest) = match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(' ') => {
            (Some(path.to_owned()), rest.to_owned())
        }
        _ => (None, message.clone()),
    };
    let reworded = if let Some(tail) = rest.strip_prefix("unknown field `") {
        // The allowed keys come last: a key may itself hold backticks (a run-on quote).
        let (key, expected) = match tail.rfind("`, expected ") {
            Some(end) => (&tail[..end], &tail[end + 1..]),
            None => tail.split_once('`').unwrap_or((tail, "")),
        };
        let allowed = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .replace('`', "");
        let hint = crate::load::suggest(key, allowed.split(", "))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        format!("unknown key {}{hint} (allowed: {allowed})", Quoted(key))
    } else if let Some(tail) = rest.strip_prefix("missing field `") {
        let key = tail.trim_end_matches('`');
        format!("the required key {} is missing", Quoted(key))
    } else if let Some(tail) = rest.strip_prefix("invalid type: ") {
        let (found, expected) = tail
            .split_once(", expected ")
            .unwrap_or((tail, "another type"));
        let numeric = matches!(expected, "u8" | "u16" | "u32" | "u64" | "f64" | "i64");
        let text = found.strip_prefix("string \"").unwrap_or("");
        let hint = if numeric && text.contains(' ') {
            "; if that text was not meant to be one value, check the indentation of the next line \
             and that every `{` has its `}`"
        } else {
            ""
        };
        format!(
            "expected {}, found {}{hint}",
            friendly_expected(expected),
            Long(found)
        )
    } else if let Some(tail) = rest.strip_prefix("invalid value: ") {
        let (found, expected) = tail
            .split_once(", expected ")
            .unwrap_or((tail, "another value"));
        format!(
            "expected {}, found {}",
            friendly_expected(expected),
            Long(found)
        )
    } else if rest.contains("while parsing a flow mapping") {
        format!("{rest}; check that every `{{` has its `}}`")
    } else {
        rest
    };
    match path {
        Some(path) => format!("in `{path}`: {reworded}"),
        None => reworded,
    }
}

/// Most characters of a key or value quoted in a message.
const QUOTE_CHARS: usize = 80;

/// A key in backticks; a long one cut, with how much was left out (a quote or bracket that
/// is never closed can swallow the rest of a file into one key).
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0) {
            None => write!(f, "`{}`", self.0),
            Some((start, total)) => write!(f, "`{start}...` ({total} characters; {UNCLOSED})"),
        }
    }
}

/// A found value as serde_yaml words it, cut like [`Quoted`] when long.
struct Long<'a>(&'a str);

impl fmt::Display for Long<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0) {
            None => f.write_str(self.0),
            Some((start, total)) => write!(f, "{start}... ({total} characters; {UNCLOSED})"),
        }
    }
}

const UNCLOSED: &str = "check that every quote and bracket before it is closed";

fn cut(text: &str) -> Option<(String, usize)> {
    let total = text.chars().count();
    (total > QUOTE_CHARS).then(|| (text.chars().take(QUOTE_CHARS).collect(), total))
}

fn friendly_expected(expected: &str) -> String {
    match expected {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" => "a whole number from 0".to_owned(),
        "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a string" => "text".to_owned(),
        "a sequence" => "a list (`[a, b]` or `- a` lines)".to_owned(),
        "struct RawMap" => {
            "a device map: a mapping with manufacturer, model, connection and registers".to_owned()
        }
        "struct RawConnection" => {
            "a mapping such as {unit_ids: {meter: 1}, address_base: 0}".to_owned()
        }
        "struct RawDefaults" => "a mapping such as {table: input}".to_owned(),
        "struct RawRegister" => {
            "a register: a mapping such as {name: voltage, address: 0, type: uint16, example: 230}"
                .to_owned()
        }
        "struct RawWrite" => "a mapping such as {min: 6, max: 32}".to_owned(),
        "struct RawHeartbeat" => {
            "a heartbeat: a mapping such as {name: alive, write: {alive: 1}, every: 10s}".to_owned()
        }
        "struct RawAction" => "an action: a mapping with params and writes".to_owned(),
        "struct RawParam" => {
            "a parameter: a mapping such as {type: int, min: 1, max: 4}".to_owned()
        }
        "struct RawStep" => {
            "a step: a mapping such as {when: mode == 1, set: {register: value}}".to_owned()
        }
        "a mapping" => "a mapping (`{key: value}` or `key: value` lines)".to_owned(),
        other => other.to_owned(),
    }
}
