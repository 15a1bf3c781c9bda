//! `connection:` and the vocabulary registers share with it: tables, orders, unit roles.

use super::*;

impl Checker<'_> {
    pub(super) fn connection(&self, c: &RawConnection) -> Check<Connection> {
        let transport = match c.transport.as_deref() {
            None => Transport::ModbusTcp,
            Some(t) => Transport::ALL
                .into_iter()
                .find(|tr| tr.name() == t)
                .ok_or_else(|| {
                    self.at(
                        "connection.transport",
                        None,
                        format!("unknown transport `{t}`"),
                        Some("modbus-tcp, rtu-over-tcp, serial-rtu, givenergy-dongle"),
                    )
                })?,
        };
        if c.unit_ids.0.is_empty() {
            return Err(self.at(
                "connection.unit_ids",
                None,
                "at least one unit id is needed",
                Some("a mapping of role names to unit ids, e.g. {meter: 1}"),
            ));
        }
        for (role, _) in &c.unit_ids.0 {
            if !valid_name(role) {
                return Err(self.at_key(
                    &format!("connection.unit_ids.{role}"),
                    None,
                    format!("`{role}` is not a usable unit role name"),
                    Some("letters, digits and `_`, starting with a letter, e.g. `socket`"),
                ));
            }
        }
        let roles = || {
            c.unit_ids
                .0
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let main_unit = match &c.main_unit {
            Some(main) => {
                if !c.unit_ids.0.iter().any(|(r, _)| r == main) {
                    return Err(self.at(
                        "connection.main_unit",
                        None,
                        format!("`{main}` is not one of the unit roles"),
                        Some(&roles()),
                    ));
                }
                main.clone()
            }
            None if c.unit_ids.0.len() == 1 => c.unit_ids.0[0].0.clone(),
            None => {
                return Err(self.at(
                    "connection.unit_ids",
                    None,
                    "with several unit roles, `main_unit` must say which one registers use by default and `--unit N` replaces",
                    Some(&roles()),
                ));
            }
        };
        let mut extra_unit_ids: Vec<(String, Vec<u8>)> = Vec::new();
        for (role, ids) in c.extra_unit_ids.iter().flat_map(|e| e.0.iter()) {
            let path = format!("connection.extra_unit_ids.{role}");
            if !c.unit_ids.0.iter().any(|(r, _)| r == role) {
                return Err(self.at_key(
                    &path,
                    None,
                    format!("`{role}` is not a unit role of `connection.unit_ids`"),
                    Some(&roles()),
                ));
            }
            for (k, id) in ids.iter().enumerate() {
                if let Some((other, _)) = c.unit_ids.0.iter().find(|(_, u)| u == id) {
                    return Err(self.at(
                        &format!("{path}.{k}"),
                        None,
                        format!("unit id {id} is already role `{other}`'s"),
                        Some("unit ids no role of `connection.unit_ids` has"),
                    ));
                }
                if extra_unit_ids.iter().any(|(_, e)| e.contains(id)) || ids[..k].contains(id) {
                    return Err(self.at(
                        &format!("{path}.{k}"),
                        None,
                        format!("unit id {id} is listed twice"),
                        Some("each extra unit id once"),
                    ));
                }
            }
            extra_unit_ids.push((role.clone(), ids.clone()));
        }
        let order = match c.order.as_deref() {
            Some(o) => self.order(o, "connection.order", None)?,
            None => Order::Abcd,
        };
        let max_registers = c.max_registers.unwrap_or(125);
        if !(1..=125).contains(&max_registers) {
            return Err(self.at(
                "connection.max_registers",
                None,
                format!("{max_registers} registers per request is not possible"),
                Some("1 to 125 (the Modbus limit)"),
            ));
        }
        let max_bits = c.max_bits.unwrap_or(2000);
        if !(1..=2000).contains(&max_bits) {
            return Err(self.at(
                "connection.max_bits",
                None,
                format!("{max_bits} bits per request is not possible"),
                Some("1 to 2000 (the Modbus limit)"),
            ));
        }
        let span_gaps = c.span_gaps.unwrap_or(false);
        if c.max_gap.is_some() && !span_gaps {
            return Err(self.at_key(
                "connection.max_gap",
                None,
                "`max_gap` only applies with `span_gaps: true`",
                Some("add `span_gaps: true`, or remove `max_gap`"),
            ));
        }
        let max_gap = if span_gaps {
            c.max_gap.unwrap_or(u16::MAX)
        } else {
            0
        };
        if c.page_size == Some(0) {
            return Err(self.at(
                "connection.page_size",
                None,
                "a page size of 0 is not possible",
                Some("a number of registers such as 60"),
            ));
        }
        let duration = |value: &Option<String>,
                        key: &str,
                        default: Option<Duration>|
         -> Check<Option<Duration>> {
            match value {
                None => Ok(default),
                Some(text) => parse_duration(text).map(Some).ok_or_else(|| {
                    self.at(
                        &format!("connection.{key}"),
                        None,
                        format!("`{text}` is not a duration"),
                        Some(DURATION_ALLOWED),
                    )
                }),
            }
        };
        let pacing = duration(&c.pacing, "pacing", Some(Duration::ZERO))?.unwrap_or_default();
        let timeout =
            duration(&c.timeout, "timeout", Some(Duration::from_secs(3)))?.unwrap_or_default();
        if timeout.is_zero() {
            return Err(self.at(
                "connection.timeout",
                None,
                "a timeout of zero would fail every request",
                Some("a duration such as 3s"),
            ));
        }
        let idle_timeout = duration(&c.idle_timeout, "idle_timeout", None)?;
        let max_connections = c.max_connections.unwrap_or(1);
        if max_connections == 0 {
            return Err(self.at(
                "connection.max_connections",
                None,
                "a device that accepts no connection cannot be used",
                Some("1 or more"),
            ));
        }
        let address_base = match &c.address_base {
            RawAddressBase::Number(base) => AddressBase::Offset(*base),
            RawAddressBase::Name(word) if word.eq_ignore_ascii_case("modicon") => {
                AddressBase::Modicon
            }
            RawAddressBase::Name(word) => {
                let hint = if word.contains(' ') {
                    "; if that text was not meant to be one value, check the indentation of the \
                     next line and that every `{` has its `}`"
                } else {
                    ""
                };
                return Err(self.at(
                    "connection.address_base",
                    None,
                    format!("`{word}` is not an address base{hint}"),
                    Some(ADDRESS_BASE_ALLOWED),
                ));
            }
        };
        let located =
            |p: crate::extent::Problem| self.at(&p.path, None, p.problem, Some(p.allowed));
        let blocks =
            crate::extent::blocks(&c.blocks, &c.unit_ids.0, &main_unit).map_err(located)?;
        let write_confirm =
            crate::extent::write_confirm(c.write_confirm.as_ref()).map_err(located)?;
        Ok(Connection {
            transport,
            port: c.port.unwrap_or(transport.default_port()),
            unit_ids: c.unit_ids.0.clone(),
            main_unit,
            extra_unit_ids,
            address_base,
            order,
            max_registers,
            max_bits,
            span_gaps,
            max_gap,
            page_size: c.page_size,
            pacing,
            timeout,
            max_connections,
            idle_timeout,
            blocks,
            write_confirm,
        })
    }

    pub(super) fn table(&self, text: &str, path: &str, item: Option<&str>) -> Check<Table> {
        let table: Table = text.parse().map_err(|_| {
            self.at(
                path,
                item,
                format!("unknown table `{text}`"),
                Some("holding, input, coil, discrete"),
            )
        })?;
        Ok(table)
    }

    pub(super) fn order(&self, text: &str, path: &str, item: Option<&str>) -> Check<Order> {
        text.parse().map_err(|e: modbus_core::ParseError| {
            self.at(
                path,
                item,
                format!("unknown byte/word order `{text}`"),
                Some(e.allowed()),
            )
        })
    }

    pub(super) fn unit_ref(
        &self,
        u: &RawUnitRef,
        c: &Connection,
        path: &str,
        item: Option<&str>,
    ) -> Check<UnitRef> {
        match u {
            RawUnitRef::Id(id) => Ok(UnitRef::Id(*id)),
            RawUnitRef::Role(role) => {
                if c.unit_id(role).is_some() {
                    Ok(UnitRef::Role(role.clone()))
                } else {
                    let roles: Vec<&str> = c.unit_ids.iter().map(|(r, _)| r.as_str()).collect();
                    Err(self.at(
                        path,
                        item,
                        format!("`{role}` is not a unit role of `connection.unit_ids`"),
                        Some(&format!("{}, or a unit id from 0 to 255", roles.join(", "))),
                    ))
                }
            }
        }
    }
}
