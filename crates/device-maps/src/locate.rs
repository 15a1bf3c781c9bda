//! Line and column of every key and value in a YAML text, by path.
//!
//! serde gives locations only for the errors it finds itself. The semantic checks of
//! [`crate::load`] run after deserialising, so this index, built from a second pass with an
//! event parser, lets every one of them point at the exact key or value at fault. Paths are
//! written `registers.3.scale`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span};

/// Positions (line and column, both from 1) of the nodes of one YAML document.
#[derive(Debug, Default)]
pub struct Locations {
    values: HashMap<String, (usize, usize)>,
    keys: HashMap<String, (usize, usize)>,
}

impl Locations {
    /// Indexes `text`. A text the event parser rejects yields whatever was indexed before the
    /// problem (serde reports the problem itself).
    pub fn build(text: &str) -> Locations {
        let mut events: Vec<(Event<'_>, Span)> = Vec::new();
        for item in Parser::new_from_str(text) {
            match item {
                Ok(event) => events.push(event),
                Err(_) => break,
            }
        }
        let mut locations = Locations::default();
        let mut cursor = 0;
        // Skip to the first node of the first document.
        while let Some((event, _)) = events.get(cursor) {
            if matches!(event, Event::DocumentStart(_)) {
                cursor += 1;
                break;
            }
            cursor += 1;
        }
        locations.node(&events, &mut cursor, String::new());
        locations
    }

    fn node(&mut self, events: &[(Event<'_>, Span)], cursor: &mut usize, path: String) {
        let Some((event, span)) = events.get(*cursor) else {
            return;
        };
        *cursor += 1;
        let at = position(span);
        match event {
            Event::Scalar(..) | Event::Alias(_) => {
                self.values.insert(path, at);
            }
            Event::SequenceStart(..) => {
                self.values.insert(path.clone(), at);
                let mut index = 0;
                while let Some((event, _)) = events.get(*cursor) {
                    if matches!(event, Event::SequenceEnd) {
                        *cursor += 1;
                        break;
                    }
                    self.node(events, cursor, join(&path, &index.to_string()));
                    index += 1;
                }
            }
            Event::MappingStart(..) => {
                self.values.insert(path.clone(), at);
                while let Some((event, span)) = events.get(*cursor) {
                    match event {
                        Event::MappingEnd => {
                            *cursor += 1;
                            break;
                        }
                        Event::Scalar(key, ..) => {
                            let child = join(&path, key);
                            self.keys.insert(child.clone(), position(span));
                            *cursor += 1;
                            self.node(events, cursor, child);
                        }
                        _ => {
                            // A complex key: index it under a throwaway path, then its value.
                            self.node(events, cursor, join(&path, "?"));
                            self.node(events, cursor, join(&path, "?"));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Where the value at `path` starts; the nearest indexed ancestor when the path has no
    /// node of its own (a key left out, so the default applies); line 1 column 1 at worst.
    pub fn value(&self, path: &str) -> (usize, usize) {
        let mut path = path;
        loop {
            if let Some(at) = self.values.get(path) {
                return *at;
            }
            match path.rfind('.') {
                Some(dot) => path = &path[..dot],
                None => return self.values.get("").copied().unwrap_or((1, 1)),
            }
        }
    }

    /// Where the key of `path` is written; falls back like [`Locations::value`].
    pub fn key(&self, path: &str) -> (usize, usize) {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.value(path))
    }
}

fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        child.to_owned()
    } else {
        format!("{path}.{child}")
    }
}

fn position(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_and_flow_nodes() {
        let text = "a: 1\nregisters:\n  - {name: x, scale: 0}\n  - name: y\n    scale: 2\n";
        let l = Locations::build(text);
        assert_eq!(l.value("a"), (1, 4));
        assert_eq!(l.value("registers.0.scale"), (3, 22));
        assert_eq!(l.key("registers.0.scale"), (3, 15));
        assert_eq!(l.value("registers.1.scale"), (5, 12));
        assert_eq!(l.value("registers.1.missing"), (4, 5));
        assert_eq!(l.value("nothing"), (1, 1));
    }
}
