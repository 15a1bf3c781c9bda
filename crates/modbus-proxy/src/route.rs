//! The unit-id table: which upstream answers which unit, written as text.
//!
//! A route is `[UNITS=]URL`:
//!
//! - `UNITS` is `*`, a unit id (`3`), a range (`1-10`) or a comma-separated list of them
//!   (`1,3,5-7`); without `UNITS=` the route takes every unit no other route names;
//! - `URL` is `tcp://HOST[:PORT]` (Modbus TCP, port 502 by default), `rtu+tcp://HOST[:PORT]`
//!   (RTU frames through a TCP gateway) or `serial:///dev/ttyUSB0[?baud=N]` (RTU on a local
//!   serial port; 9600 baud by default).
//!
//! Routes naming the same URL share one upstream and so one connection.

use std::fmt;
use std::str::FromStr;

use modbus_client::{DEFAULT_BAUD_RATE, Endpoint, Transport};

/// A route or unit list that cannot be read, with the text and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Not `*`, `N`, `N-M` or a comma-separated list of them, with ids 0..=255.
    #[error("`{text}` is not a unit list: write *, N, N-M or a comma-separated list (ids 0-255)")]
    Units {
        /// The text given.
        text: String,
    },
    /// A URL of an unknown scheme or without a host.
    #[error(
        "`{text}` is not an upstream: write tcp://HOST[:PORT], rtu+tcp://HOST[:PORT] or serial:///dev/PATH[?baud=N]"
    )]
    Url {
        /// The text given.
        text: String,
    },
    /// A serial option other than `baud`, or a baud rate that is not a number.
    #[error("`{text}`: serial upstreams take only ?baud=N (a positive number)")]
    SerialOption {
        /// The text given.
        text: String,
    },
    /// Two routes claim a unit.
    #[error("unit {unit} is routed twice: to {first} and to {second}")]
    Overlap {
        /// The unit.
        unit: u8,
        /// The first route's upstream.
        first: String,
        /// The second route's upstream.
        second: String,
    },
    /// More than one route without units.
    #[error(
        "only one upstream may take the remaining units; give the others UNITS= (e.g. 1-10=URL)"
    )]
    TwoDefaults,
    /// No route at all.
    #[error("no upstream given")]
    Empty,
}

/// A set of unit ids.
#[derive(Clone, PartialEq, Eq)]
pub struct UnitSet([bool; 256]);

impl UnitSet {
    /// Every unit id.
    pub fn all() -> Self {
        Self([true; 256])
    }

    /// Whether `unit` is in the set.
    pub fn contains(&self, unit: u8) -> bool {
        self.0[usize::from(unit)]
    }

    fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|u| self.contains(*u))
    }
}

impl fmt::Debug for UnitSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnitSet({self})")
    }
}

impl fmt::Display for UnitSet {
    /// Ranges joined by commas, `*` for every unit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.iter().all(|b| *b) {
            return f.write_str("*");
        }
        let mut parts = Vec::new();
        let mut ids = self.ids().peekable();
        while let Some(start) = ids.next() {
            let mut end = start;
            while ids.peek() == Some(&end.wrapping_add(1)) && end != 255 {
                end = ids.next().unwrap_or(end);
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for UnitSet {
    type Err = RouteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || RouteError::Units {
            text: text.to_owned(),
        };
        if text.trim() == "*" {
            return Ok(Self::all());
        }
        let mut set = [false; 256];
        for part in text.split(',') {
            let part = part.trim();
            let (lo, hi) = match part.split_once('-') {
                Some((lo, hi)) => (lo.trim(), hi.trim()),
                None => (part, part),
            };
            let lo: u8 = lo.parse().map_err(|_| bad())?;
            let hi: u8 = hi.parse().map_err(|_| bad())?;
            if lo > hi {
                return Err(bad());
            }
            for unit in lo..=hi {
                set[usize::from(unit)] = true;
            }
        }
        Ok(Self(set))
    }
}

/// Where an upstream device is: the URL as written and the endpoint it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The URL in its canonical spelling (used in logs and metric labels).
    pub url: String,
    /// The modbus-client endpoint.
    pub endpoint: Endpoint,
}

impl Upstream {
    /// The upstream of an endpoint (as the service builds one from a device's connection).
    pub fn from_endpoint(endpoint: Endpoint) -> Self {
        let url = match &endpoint.transport {
            Transport::Tcp => format!("tcp://{}", endpoint.address),
            Transport::RtuOverTcp => format!("rtu+tcp://{}", endpoint.address),
            Transport::Serial { baud_rate } => {
                format!("serial://{}?baud={baud_rate}", endpoint.address)
            }
        };
        Self { url, endpoint }
    }
}

impl FromStr for Upstream {
    type Err = RouteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = || RouteError::Url {
            text: text.to_owned(),
        };
        let host_port = |rest: &str| -> Result<String, RouteError> {
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
                return Err(bad());
            }
            // `[::1]:502`, `host:502`, or a bare host (port 502).
            let has_port = if rest.starts_with('[') {
                rest.contains("]:")
            } else {
                rest.matches(':').count() == 1
            };
            if has_port {
                let (_, port) = rest.rsplit_once(':').ok_or_else(bad)?;
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(bad)?;
                Ok(rest.to_owned())
            } else if rest.contains(':') && !rest.starts_with('[') {
                Ok(format!("[{rest}]:502"))
            } else {
                Ok(format!("{rest}:502"))
            }
        };
        if let Some(rest) = text.strip_prefix("tcp://") {
            return Ok(Self::from_endpoint(Endpoint::tcp(host_port(rest)?)));
        }
        if let Some(rest) = text
            .strip_prefix("rtu+tcp://")
            .or_else(|| text.strip_prefix("rtu-over-tcp://"))
        {
            return Ok(Self::from_endpoint(Endpoint::rtu_over_tcp(host_port(
                rest,
            )?)));
        }
        if let Some(rest) = text
            .strip_prefix("serial://")
            .or_else(|| text.strip_prefix("serial:"))
        {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err(bad());
            }
            let mut baud = DEFAULT_BAUD_RATE;
            for option in query.split('&').filter(|o| !o.is_empty()) {
                let value = option
                    .strip_prefix("baud=")
                    .ok_or(RouteError::SerialOption {
                        text: text.to_owned(),
                    })?;
                baud = value.parse::<u32>().ok().filter(|b| *b > 0).ok_or(
                    RouteError::SerialOption {
                        text: text.to_owned(),
                    },
                )?;
            }
            return Ok(Self::from_endpoint(Endpoint::serial(path, baud)));
        }
        Err(bad())
    }
}

/// One line of the table: these units go to this upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The units; `None` for "every unit no other route names".
    pub units: Option<UnitSet>,
    /// Where they go.
    pub upstream: Upstream,
}

impl FromStr for Route {
    type Err = RouteError;

    /// `[UNITS=]URL`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        // A URL never contains `=` before its scheme, so the first `=` ends the unit list
        // (serial options come after `?`).
        let scheme_at = text.find("://").or_else(|| text.find(':'));
        match text.split_once('=') {
            Some((units, url)) if scheme_at.is_none_or(|s| units.len() < s) => {
                let units: UnitSet = units.parse()?;
                let units = (units != UnitSet::all()).then_some(units);
                Ok(Self {
                    units,
                    upstream: url.parse()?,
                })
            }
            _ => Ok(Self {
                units: None,
                upstream: text.parse()?,
            }),
        }
    }
}

/// The whole table, checked: no unit routed twice, at most one default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    upstreams: Vec<Upstream>,
    /// Index into `upstreams` per unit id.
    by_unit: Vec<Option<usize>>,
}

impl RouteTable {
    /// Checks and indexes `routes`.
    pub fn new(routes: &[Route]) -> Result<Self, RouteError> {
        if routes.is_empty() {
            return Err(RouteError::Empty);
        }
        let mut upstreams: Vec<Upstream> = Vec::new();
        let mut by_unit: Vec<Option<usize>> = vec![None; 256];
        let mut default = None;
        for route in routes {
            let index = match upstreams
                .iter()
                .position(|u| u.endpoint == route.upstream.endpoint)
            {
                Some(i) => i,
                None => {
                    upstreams.push(route.upstream.clone());
                    upstreams.len() - 1
                }
            };
            match &route.units {
                None => {
                    if default.is_some() {
                        return Err(RouteError::TwoDefaults);
                    }
                    default = Some(index);
                }
                Some(units) => {
                    for unit in units.ids() {
                        let slot = &mut by_unit[usize::from(unit)];
                        if let Some(first) = *slot {
                            return Err(RouteError::Overlap {
                                unit,
                                first: upstreams[first].url.clone(),
                                second: route.upstream.url.clone(),
                            });
                        }
                        *slot = Some(index);
                    }
                }
            }
        }
        if let Some(default) = default {
            for slot in &mut by_unit {
                slot.get_or_insert(default);
            }
        }
        Ok(Self { upstreams, by_unit })
    }

    /// Parses every `[UNITS=]URL` text, then checks them as [`RouteTable::new`] does.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Self, RouteError> {
        let routes = texts
            .iter()
            .map(|t| t.as_ref().parse())
            .collect::<Result<Vec<Route>, _>>()?;
        Self::new(&routes)
    }

    /// The distinct upstreams, in the order first named.
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    /// The index (into [`RouteTable::upstreams`]) of the upstream answering `unit`.
    pub fn upstream_of(&self, unit: u8) -> Option<usize> {
        self.by_unit[usize::from(unit)]
    }

    /// The units each upstream answers, as text (`1-10`, `*`), in upstream order.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut set = [false; 256];
                for (unit, slot) in self.by_unit.iter().enumerate() {
                    set[unit] = *slot == Some(i);
                }
                (UnitSet(set).to_string(), u.url.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_lists() {
        let set: UnitSet = "1,3, 5-7".parse().unwrap();
        assert_eq!(set.to_string(), "1,3,5-7");
        assert!(set.contains(6) && !set.contains(4));
        assert_eq!("*".parse::<UnitSet>().unwrap(), UnitSet::all());
        assert_eq!("0-255".parse::<UnitSet>().unwrap().to_string(), "*");
        assert_eq!("250-255".parse::<UnitSet>().unwrap().to_string(), "250-255");
        for bad in ["", "x", "3-1", "256", "1-", "-3", "1,,2"] {
            assert!(bad.parse::<UnitSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn upstream_urls() {
        let tcp: Upstream = "tcp://192.168.1.40".parse().unwrap();
        assert_eq!(tcp.endpoint, Endpoint::tcp("192.168.1.40:502"));
        assert_eq!(tcp.url, "tcp://192.168.1.40:502");
        let rtu: Upstream = "rtu+tcp://gw.local:8899".parse().unwrap();
        assert_eq!(rtu.endpoint, Endpoint::rtu_over_tcp("gw.local:8899"));
        let v6: Upstream = "tcp://[::1]:5020".parse().unwrap();
        assert_eq!(v6.endpoint.address, "[::1]:5020");
        let serial: Upstream = "serial:///dev/ttyUSB0?baud=19200".parse().unwrap();
        assert_eq!(serial.endpoint, Endpoint::serial("/dev/ttyUSB0", 19200));
        assert_eq!(serial.url, "serial:///dev/ttyUSB0?baud=19200");
        let default_baud: Upstream = "serial:/dev/ttyAMA0".parse().unwrap();
        assert_eq!(
            default_baud.endpoint,
            Endpoint::serial("/dev/ttyAMA0", DEFAULT_BAUD_RATE)
        );
        for bad in [
            "192.168.1.40",
            "http://x",
            "tcp://",
            "tcp://h:0",
            "tcp://h:x",
            "tcp://h/p",
            "serial://",
        ] {
            assert!(bad.parse::<Upstream>().is_err(), "{bad}");
        }
        assert!(matches!(
            "serial:///dev/x?parity=E".parse::<Upstream>(),
            Err(RouteError::SerialOption { .. })
        ));
    }

    #[test]
    fn tables_route_units_and_share_upstreams() {
        let table = RouteTable::parse(&[
            "1-10=tcp://127.0.0.1:5020",
            "20,21=serial:///dev/ttyUSB0",
            "tcp://127.0.0.1:5021",
            "30=tcp://127.0.0.1:5020",
        ])
        .unwrap();
        assert_eq!(table.upstreams().len(), 3);
        assert_eq!(table.upstream_of(1), Some(0));
        assert_eq!(table.upstream_of(30), Some(0));
        assert_eq!(table.upstream_of(21), Some(1));
        assert_eq!(table.upstream_of(11), Some(2));
        assert_eq!(table.upstream_of(255), Some(2));
        let described = table.describe();
        assert_eq!(described[0].0, "1-10,30");
        assert_eq!(described[1].0, "20-21");

        let only = RouteTable::parse(&["1=tcp://127.0.0.1:5020"]).unwrap();
        assert_eq!(only.upstream_of(2), None);
        assert_eq!(
            RouteTable::parse(&["*=tcp://a:1"]).unwrap().upstream_of(9),
            Some(0)
        );
    }

    #[test]
    fn conflicts_are_errors() {
        let overlap = RouteTable::parse(&["1-5=tcp://a:1", "5=tcp://b:1"]).unwrap_err();
        assert_eq!(
            overlap.to_string(),
            "unit 5 is routed twice: to tcp://a:1 and to tcp://b:1"
        );
        assert_eq!(
            RouteTable::parse(&["tcp://a:1", "tcp://b:1"]),
            Err(RouteError::TwoDefaults)
        );
        assert_eq!(RouteTable::parse::<&str>(&[]), Err(RouteError::Empty));
    }
}
