//! One register at a time: address, type, count, scale, sentinels, enumeration and write rule.

use super::*;

impl Checker<'_> {
    pub(super) fn register(
        &self,
        i: usize,
        r: &RawRegister,
        c: &Connection,
        default_table: Option<Table>,
        default_unit: &UnitRef,
    ) -> Check<Register> {
        let p = |key: &str| self.rp(i, key);
        let name = Some(r.name.as_str());
        // Under Modicon numbering the leading digit of the address names the table and base.
        let modicon = match c.address_base {
            AddressBase::Modicon => Some(AddressBase::modicon(r.address).ok_or_else(|| {
                self.at(
                    &p("address"),
                    name,
                    format!("{} is not a Modicon address", r.address),
                    Some(MODICON_ALLOWED),
                )
            })?),
            AddressBase::Offset(_) => None,
        };
        let table = match (&r.table, modicon) {
            (Some(t), Some((digit, _))) => {
                let table = self.table(t, &p("table"), name)?;
                if table != digit {
                    return Err(self.at(
                        &p("table"),
                        name,
                        format!(
                            "`table: {table}` contradicts address {}, which `address_base: \
                             modicon` puts in the {digit} table",
                            r.address
                        ),
                        Some(&format!(
                            "`table: {digit}`, or leave `table` out (the leading digit picks it)"
                        )),
                    ));
                }
                table
            }
            (Some(t), None) => self.table(t, &p("table"), name)?,
            (None, Some((digit, _))) => match default_table {
                Some(default) if default != digit => {
                    return Err(self.at(
                        &p("address"),
                        name,
                        format!(
                            "address {} is in the {digit} table under `address_base: modicon`, \
                             but `defaults.table` is {default}",
                            r.address
                        ),
                        Some(&format!(
                            "`table: {digit}` on this register, or remove `defaults.table` (the \
                             leading digit picks the table)"
                        )),
                    ));
                }
                _ => digit,
            },
            (None, None) => default_table.unwrap_or(Table::Holding),
        };
        let unit_id = match &r.unit_id {
            Some(u) => self.unit_ref(u, c, &p("unit_id"), name)?,
            None => default_unit.clone(),
        };
        let register_type = match (r.data_type.as_deref(), table.is_bits()) {
            (None | Some("bool"), true) => RegisterType::Bool,
            (Some(t), true) => {
                return Err(self.at(
                    &p("type"),
                    name,
                    format!("a {table} holds one bit, so its type cannot be `{t}`"),
                    Some("bool, or leave `type` out"),
                ));
            }
            (Some("bool"), false) => {
                return Err(self.at(
                    &p("type"),
                    name,
                    format!("`bool` is for coils and discrete inputs, not {table} registers"),
                    Some("a register type such as uint16, or `table: coil`"),
                ));
            }
            (None, false) => {
                return Err(self.at_key(
                    &p("name"),
                    name,
                    "the register has no `type`",
                    Some(TYPES_ALLOWED),
                ));
            }
            (Some(t), false) => RegisterType::Data(t.parse().map_err(|_| {
                let hint = suggest(t, DataType::ALL.iter().map(|d| d.name()))
                    .map(|s| format!("unknown type `{t}`; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("unknown type `{t}`"));
                self.at(&p("type"), name, hint, Some(TYPES_ALLOWED))
            })?),
        };
        let count = match register_type {
            RegisterType::Bool => match r.count {
                None | Some(1) => 1,
                Some(n) => {
                    return Err(self.at(
                        &p("count"),
                        name,
                        format!("a {table} is one bit; a count of {n} does not fit"),
                        Some("1, or leave `count` out"),
                    ));
                }
            },
            RegisterType::Data(t) => t.registers(r.count).map_err(|e| {
                let allowed = match t.fixed_registers() {
                    Some(w) => format!("{w} for {t}, or leave `count` out"),
                    None => "a number of registers of at least 1, e.g. `count: 10`".to_owned(),
                };
                let path = if r.count.is_some() {
                    p("count")
                } else {
                    p("type")
                };
                self.at(&path, name, e.to_string(), Some(&allowed))
            })?,
        };
        let order = match &r.order {
            Some(o) => self.order(o, &p("order"), name)?,
            None => c.order,
        };
        // Address.
        let wire = match modicon {
            Some((_, wire)) => u32::from(wire),
            None => {
                let base = match c.address_base {
                    AddressBase::Offset(base) => base,
                    AddressBase::Modicon => 0,
                };
                if r.address < base {
                    return Err(self.at(
                        &p("address"),
                        name,
                        format!(
                            "address {} is below the map's address_base {base}",
                            r.address
                        ),
                        Some(&format!(
                            "addresses from {base} (the wire address is address - address_base)"
                        )),
                    ));
                }
                r.address - base
            }
        };
        let last = u64::from(wire) + u64::from(count) - 1;
        if last > 65535 {
            let allowed = match c.address_base {
                AddressBase::Offset(base) => format!(
                    "addresses up to {} with address_base {base}",
                    65535 + u64::from(base) + 1 - u64::from(count)
                ),
                AddressBase::Modicon => {
                    format!("an address whose {count} register(s) end at wire address 65535")
                }
            };
            return Err(self.at(
                &p("address"),
                name,
                format!(
                    "address {} is wire address {wire}, and with {count} register(s) it ends at \
                     {last}, beyond 65535",
                    r.address
                ),
                Some(&allowed),
            ));
        }
        let wire_address = wire as u16;
        // Scale and offset.
        let scale = match &r.scale {
            None => Scale::Factor(1.0),
            Some(RawNumberOrName::Number(f)) => {
                if *f == 0.0 || !f.is_finite() {
                    return Err(self.at(
                        &p("scale"),
                        name,
                        format!("scale must not be {f}"),
                        Some(
                            "a number such as 0.1 or 1000, or the name of a scale-factor register",
                        ),
                    ));
                }
                Scale::Factor(*f)
            }
            Some(RawNumberOrName::Name(n)) => Scale::PowerOfTen(n.clone()),
        };
        let offset = r.offset.unwrap_or(0.0);
        if !offset.is_finite() {
            return Err(self.at(&p("offset"), name, "offset must be a finite number", None));
        }
        let data_type = register_type.data_type();
        let scaled = !scale.is_identity() || offset != 0.0;
        if scaled && !data_type.is_some_and(|t| t.is_numeric()) {
            let path = if r.scale.is_some() {
                p("scale")
            } else {
                p("offset")
            };
            return Err(self.at(
                &path,
                name,
                format!("scale and offset apply only to numbers, not to {register_type}"),
                Some("int16 ... uint64, float32, float64"),
            ));
        }
        // Enumeration and flags.
        let mut enumeration = Vec::new();
        let mut text_enumeration = Vec::new();
        if let Some(e) = &r.enumeration
            && data_type.is_some_and(|t| t.is_text())
        {
            for (key, label) in &e.0 {
                if key.trim() != key || key.is_empty() {
                    return Err(self.at_key(
                        &format!("{}.{key}", p("enum")),
                        name,
                        format!("enumeration key `{key}` of a text register is empty or has leading or trailing spaces"),
                        Some("the text as the device sends it, trimmed, e.g. `C2`"),
                    ));
                }
                text_enumeration.push((key.clone(), label.clone()));
            }
        } else if let Some(e) = &r.enumeration {
            match data_type {
                Some(t) if t.is_integer() => {}
                _ => {
                    return Err(self.at_key(
                        &p("enum"),
                        name,
                        format!(
                            "an enumeration needs an integer type, and {register_type} is not one"
                        ),
                        Some("enum on int16, uint16, int32, uint32, int64, uint64, or text (string, string1)"),
                    ));
                }
            }
            if scaled {
                return Err(self.at_key(&p("enum"), name, "an enumeration labels raw values, so it cannot be combined with scale or offset", None));
            }
            for (key, label) in &e.0 {
                let value = parse_int(key).ok_or_else(|| {
                    self.at_key(
                        &format!("{}.{key}", p("enum")),
                        name,
                        format!("enumeration key `{key}` is not a whole number"),
                        Some("whole numbers such as 0, 1, 0x10"),
                    )
                })?;
                enumeration.push((value, label.clone()));
            }
        }
        let mut flags = Vec::new();
        if let Some(f) = &r.flags {
            let width = match data_type {
                Some(
                    t @ (DataType::Bits16 | DataType::Bits32 | DataType::UInt16 | DataType::UInt32),
                ) => t.bits().unwrap_or(16),
                _ => {
                    return Err(self.at_key(
                        &p("flags"),
                        name,
                        format!(
                            "flags name the bits of a bit field, and {register_type} is not one"
                        ),
                        Some("flags on bits16, bits32, uint16 or uint32"),
                    ));
                }
            };
            for (key, label) in &f.0 {
                let bit = key
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b < width)
                    .ok_or_else(|| {
                        self.at_key(
                            &format!("{}.{key}", p("flags")),
                            name,
                            format!("`{key}` is not a bit of a {width}-bit value"),
                            Some(&format!("bit numbers 0 to {}", width - 1)),
                        )
                    })?;
                flags.push((bit, label.clone()));
            }
        }
        // Sentinels.
        let mut sentinels = Vec::new();
        for (k, s) in r.sentinels.iter().enumerate() {
            let path = format!("{}.{k}", p("sentinels"));
            let sentinel = match s {
                RawSentinel::Unsigned(v) => Sentinel::Raw(*v),
                RawSentinel::Signed(v) => Sentinel::Raw(*v as u64),
                RawSentinel::Word(w) => w.parse().map_err(|e: modbus_core::ParseError| {
                    self.at(
                        &path,
                        name,
                        format!("`{w}` is not a sentinel"),
                        Some(e.allowed()),
                    )
                })?,
            };
            if register_type == RegisterType::Bool {
                return Err(self.at(
                    &path,
                    name,
                    "a single bit has no \"not available\" pattern",
                    None,
                ));
            }
            sentinels.push(sentinel);
        }
        let valid = match r.valid {
            None => None,
            Some(v) => {
                let numeric = register_type.data_type().is_some_and(|d| d.is_numeric());
                let bad = |problem: String| {
                    self.at(
                        &p("valid"),
                        name,
                        problem,
                        Some("`{min: N, max: N}` (either or both) on a numeric register"),
                    )
                };
                if !numeric {
                    return Err(bad(format!(
                        "a {register_type} register has no numeric range"
                    )));
                }
                match (v.min, v.max) {
                    (None, None) => {
                        return Err(bad("`valid` gives neither `min` nor `max`".into()));
                    }
                    (Some(lo), Some(hi)) if lo > hi => {
                        return Err(bad(format!("`min` {lo} is above `max` {hi}")));
                    }
                    (lo, hi)
                        if lo.is_some_and(|x| !x.is_finite())
                            || hi.is_some_and(|x| !x.is_finite()) =>
                    {
                        return Err(bad("the bounds must be finite numbers".into()));
                    }
                    (min, max) => Some(Valid { min, max }),
                }
            }
        };
        // Format.
        let format = match r.format.as_deref() {
            None => None,
            Some("hhmm") => {
                if !data_type.is_some_and(|t| t.is_integer()) || scaled {
                    return Err(self.at(
                        &p("format"),
                        name,
                        "`hhmm` needs an unscaled integer register",
                        None,
                    ));
                }
                Some(Format::Hhmm)
            }
            Some(other) => {
                return Err(self.at(
                    &p("format"),
                    name,
                    format!("unknown format `{other}`"),
                    Some("hhmm"),
                ));
            }
        };
        // Access and write rules.
        let access = match r.access.as_deref() {
            None | Some("r") => Access::Read,
            Some("rw") => Access::ReadWrite,
            Some("w") => Access::Write,
            Some(other) => {
                return Err(self.at(
                    &p("access"),
                    name,
                    format!("unknown access `{other}`"),
                    Some("r (read only), rw (read and write), w (write only)"),
                ));
            }
        };
        if access.writable() && !table.is_writable() {
            return Err(self.at(&p("access"), name, format!("{table} registers cannot be written over Modbus, so access `{access}` is impossible"), Some("access r, or table holding (or coil)")));
        }
        let write = match (&r.write, access.writable()) {
            (Some(_), false) => {
                return Err(self.at_key(
                    &p("write"),
                    name,
                    "a `write` block on a read-only register",
                    Some("add `access: rw` (or `w`), or remove `write`"),
                ));
            }
            (w, true) => Some(self.write_rule(i, r, w.as_ref(), access)?),
            (None, false) => None,
        };
        // Kind.
        let kind = match r.kind.as_deref() {
            Some(k) => Kind::ALL
                .into_iter()
                .find(|x| x.name() == k)
                .ok_or_else(|| {
                    self.at(
                        &p("kind"),
                        name,
                        format!("unknown kind `{k}`"),
                        Some("measurement, counter, state, text, setting"),
                    )
                })?,
            None => {
                if data_type.is_some_and(|t| t.is_text()) && text_enumeration.is_empty() {
                    Kind::Text
                } else if !enumeration.is_empty()
                    || !text_enumeration.is_empty()
                    || !flags.is_empty()
                    || data_type.is_some_and(|t| t.is_bits())
                {
                    Kind::State
                } else if access.writable() {
                    Kind::Setting
                } else {
                    Kind::Measurement
                }
            }
        };
        if let Some(group) = &r.group
            && (group.is_empty() || group.split('/').any(|s| s.trim().is_empty()))
        {
            return Err(self.at(
                &p("group"),
                name,
                format!("`{group}` is not a usable group path"),
                Some("a name, or names joined with `/`, e.g. `Energy/Today`"),
            ));
        }
        let phase = match r.phase.as_deref() {
            None => None,
            Some(text) => Some(
                crate::model::PHASES
                    .into_iter()
                    .find(|ph| ph.eq_ignore_ascii_case(text.trim()))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        self.at(
                            &p("phase"),
                            name,
                            format!("unknown phase `{text}`"),
                            Some(&crate::model::PHASES.join(", ")),
                        )
                    })?,
            ),
        };
        let role = match r.role.as_deref() {
            None => None,
            Some(text) => {
                let role = crate::Role::parse(text).ok_or_else(|| {
                    self.at(
                        &p("role"),
                        name,
                        format!("unknown role `{text}`"),
                        Some(&format!(
                            "{} (a leading `-` when the register counts the other way round)",
                            crate::Role::allowed()
                        )),
                    )
                })?;
                let dimension = role.quantity.dimension();
                if r.unit
                    .as_deref()
                    .and_then(|u| dimension.factor(u))
                    .is_none()
                {
                    return Err(self.at(
                        &p("role"),
                        name,
                        format!(
                            "role `{role}` needs the unit to be {}, not {}",
                            dimension.units(),
                            r.unit
                                .as_deref()
                                .map_or("none".to_owned(), |u| format!("`{u}`"))
                        ),
                        None,
                    ));
                }
                Some(role)
            }
        };
        // The codec (fixed scale only; a scale-factor register is applied on top).
        let codec = match data_type {
            None => None,
            Some(t) => {
                let mut codec = Codec::with_count(t, Some(count), order)
                    .map_err(|e| self.at(&p("type"), name, e.to_string(), None))?;
                let factor = match scale {
                    Scale::Factor(f) => f,
                    Scale::PowerOfTen(_) => 1.0,
                };
                codec = codec
                    .scaled(factor, offset)
                    .map_err(|e| self.at(&p("scale"), name, e.to_string(), None))?;
                for (k, s) in sentinels.iter().enumerate() {
                    codec = codec.missing_when(*s).map_err(|e| {
                        self.at(&format!("{}.{k}", p("sentinels")), name, e.to_string(), Some("a pattern as wide as the type (0xFFFF for 16 bits), all-ones, or nan for floats"))
                    })?;
                }
                Some(codec)
            }
        };
        Ok(Register {
            name: r.name.clone(),
            title: r.title.clone().unwrap_or_else(|| title_from_name(&r.name)),
            address: r.address,
            wire_address,
            table,
            unit_id,
            register_type,
            count,
            order,
            scale,
            offset,
            unit: r.unit.clone(),
            enumeration,
            text_enumeration,
            flags,
            sentinels,
            valid,
            format,
            kind,
            access,
            write,
            group: r.group.clone(),
            key: r.key.clone(),
            phase,
            role,
            description: r.description.clone(),
            // Replaced by `examples` once every register is known.
            example: Value::UInt(0),
            example_words: None,
            codec,
        })
    }

    pub(super) fn write_rule(
        &self,
        i: usize,
        r: &RawRegister,
        w: Option<&crate::raw::RawWrite>,
        access: Access,
    ) -> Check<WriteRule> {
        let p = |key: &str| self.rp(i, &format!("write.{key}"));
        let name = Some(r.name.as_str());
        let default = crate::raw::RawWrite::default();
        let w = w.unwrap_or(&default);
        let bound = |b: &Option<RawNumberOrName>, key: &str| -> Check<Option<Bound>> {
            Ok(match b {
                None => None,
                Some(RawNumberOrName::Number(v)) if v.is_finite() => Some(Bound::Value(*v)),
                Some(RawNumberOrName::Number(v)) => {
                    return Err(self.at(
                        &p(key),
                        name,
                        format!("{v} is not a usable bound"),
                        Some("a finite number or a register name"),
                    ));
                }
                Some(RawNumberOrName::Name(n)) => Some(Bound::Register(n.clone())),
            })
        };
        let min = bound(&w.min, "min")?;
        let max = bound(&w.max, "max")?;
        if let (Some(Bound::Value(lo)), Some(Bound::Value(hi))) = (&min, &max)
            && lo > hi
        {
            return Err(self.at(
                &p("min"),
                name,
                format!("min {lo} is above max {hi}"),
                Some("min <= max"),
            ));
        }
        if let Some(step) = w.step
            && !(step.is_finite() && step > 0.0)
        {
            return Err(self.at(
                &p("step"),
                name,
                format!("step {step} is not positive"),
                Some("a number above 0, e.g. 1 or 0.5"),
            ));
        }
        let data_type = if r
            .table
            .as_deref()
            .is_some_and(|t| t.parse::<Table>().is_ok_and(|t| t.is_bits()))
        {
            None
        } else {
            r.data_type
                .as_deref()
                .and_then(|t| t.parse::<DataType>().ok())
        };
        let has_limits = min.is_some() || max.is_some() || w.step.is_some() || !w.also.is_empty();
        if has_limits && data_type.is_some_and(|t| !t.is_numeric()) {
            return Err(self.at_key(
                &self.rp(i, "write"),
                name,
                "min, max, step and also apply only to numbers",
                None,
            ));
        }
        let read_back = match &w.read_back {
            None if access == Access::ReadWrite => ReadBack::Same,
            None => ReadBack::None,
            Some(RawReadBack::Flag(false)) => ReadBack::None,
            Some(RawReadBack::Flag(true)) if access == Access::Write => {
                return Err(self.at(
                    &p("read_back"),
                    name,
                    "a write-only register cannot be read back",
                    Some("false, or the name of a register that shows the applied value"),
                ));
            }
            Some(RawReadBack::Flag(true)) => ReadBack::Same,
            Some(RawReadBack::Register(n)) => ReadBack::Register(n.clone()),
        };
        Ok(WriteRule {
            min,
            max,
            step: w.step,
            also: w.also.clone(),
            read_back,
        })
    }
}
