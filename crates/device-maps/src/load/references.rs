//! Rules across registers: scale-factor and bound references, examples and overlaps.

use super::*;

impl Checker<'_> {
    /// Scale-factor registers exist, are integers of the same unit, and are readable.
    pub(super) fn scale_references(
        &self,
        raw: &[RawRegister],
        registers: &mut [Register],
    ) -> Check<()> {
        for i in 0..registers.len() {
            if self.skipped(&registers[i].name) {
                continue;
            }
            let Scale::PowerOfTen(target) = &registers[i].scale else {
                continue;
            };
            let path = self.rp(i, "scale");
            let name = Some(raw[i].name.as_str());
            let Some(t) = registers.iter().find(|r| r.name == *target) else {
                let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
                return Err(self.at(
                    &path,
                    name,
                    format!(
                        "scale names `{target}`, which is not a register of this map{}",
                        did_you_mean(hint)
                    ),
                    Some("a number, or the name of an integer scale-factor register"),
                ));
            };
            if !t.register_type.data_type().is_some_and(|d| d.is_integer())
                || !t.scale.is_identity()
                || t.offset != 0.0
            {
                return Err(self.at(&path, name, format!("scale-factor register `{target}` must be an unscaled integer (SunSpec sunssf is int16)"), None));
            }
            if t.unit_id != registers[i].unit_id {
                return Err(self.at(
                    &path,
                    name,
                    format!("scale-factor register `{target}` is on another unit"),
                    Some("a scale-factor register of the same unit"),
                ));
            }
            if !t.access.readable() {
                return Err(self.at(
                    &path,
                    name,
                    format!("scale-factor register `{target}` is write-only, so it cannot be read"),
                    None,
                ));
            }
            if t.name == registers[i].name {
                return Err(self.at(
                    &path,
                    name,
                    "a register cannot be its own scale factor",
                    None,
                ));
            }
        }
        Ok(())
    }

    /// Write bounds and read-back registers name readable numeric registers.
    pub(super) fn bound_references(
        &self,
        raw: &[RawRegister],
        registers: &[Register],
    ) -> Check<()> {
        for (i, r) in registers.iter().enumerate() {
            if self.skipped(&r.name) {
                continue;
            }
            let Some(w) = &r.write else { continue };
            let name = Some(raw[i].name.as_str());
            for (key, bound) in [("min", &w.min), ("max", &w.max)] {
                if let Some(Bound::Register(target)) = bound {
                    let path = self.rp(i, &format!("write.{key}"));
                    self.numeric_register(registers, target, &path, name, &format!("`{key}`"))?;
                }
            }
            if let ReadBack::Register(target) = &w.read_back {
                let path = self.rp(i, "write.read_back");
                let t = self.readable_register(registers, target, &path, name, "`read_back`")?;
                if t.unit_id != r.unit_id {
                    return Err(self.at(
                        &path,
                        name,
                        format!("read-back register `{target}` is on another unit"),
                        None,
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn readable_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: Option<&str>,
        what: &str,
    ) -> Check<&'r Register> {
        let Some(t) = registers.iter().find(|r| r.name == target) else {
            let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
            return Err(self.at(
                path,
                item,
                format!(
                    "{what} names `{target}`, which is not a register of this map{}",
                    did_you_mean(hint)
                ),
                None,
            ));
        };
        if !t.access.readable() {
            return Err(self.at(
                path,
                item,
                format!("{what} names `{target}`, which is write-only and cannot be read"),
                None,
            ));
        }
        Ok(t)
    }

    pub(super) fn numeric_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: Option<&str>,
        what: &str,
    ) -> Check<&'r Register> {
        let t = self.readable_register(registers, target, path, item, what)?;
        if !t.register_type.data_type().is_some_and(|d| d.is_numeric()) {
            return Err(self.at(
                path,
                item,
                format!(
                    "{what} names `{target}`, which is {} and not a number",
                    t.register_type
                ),
                None,
            ));
        }
        Ok(t)
    }

    /// Every example is a value the register can hold and, for writable registers, may write.
    pub(super) fn examples(&self, raw: &[RawRegister], registers: &mut [Register]) -> Check<()> {
        for i in 0..registers.len() {
            if self.skipped(&registers[i].name) {
                continue;
            }
            let path = self.rp(i, "example");
            let name = Some(raw[i].name.as_str());
            if raw[i].example.is_null() {
                let words = unavailable_words(&registers[i]).ok_or_else(|| {
                    self.at(
                        &path,
                        name,
                        "`example: null` (not available) needs a way for the register to say so",
                        Some("add `sentinels: [...]` (e.g. 0xFFFF or all-ones), use a float type (NaN), or give a value"),
                    )
                })?;
                registers[i].example = Value::Float(f64::NAN);
                registers[i].example_words = Some(words);
                continue;
            }
            let value = example_value(&registers[i], &raw[i].example)
                .map_err(|(problem, allowed)| self.at(&path, name, problem, Some(&allowed)))?;
            // It must encode (fits the type after scale and offset).
            let sf = match &registers[i].scale {
                Scale::PowerOfTen(target) => {
                    let t = registers.iter().find(|r| r.name == *target);
                    let sf = t.and_then(|t| {
                        example_number(
                            &raw[registers.iter().position(|r| r.name == t.name).unwrap_or(0)]
                                .example,
                        )
                    });
                    Some(sf.unwrap_or(0.0))
                }
                Scale::Factor(_) => None,
            };
            let r = &registers[i];
            if let Some(codec) = &r.codec {
                let to_encode = match (sf, value.as_f64()) {
                    (Some(sf), Some(v)) => Value::Float(v / 10f64.powf(sf)),
                    _ => value.clone(),
                };
                if let Err(e) = codec.encode(&to_encode) {
                    let extra = if sf.is_some() {
                        " with the scale factor's example"
                    } else {
                        ""
                    };
                    return Err(self.at(&path, name, format!("the example {} cannot be stored{extra}: {e}", show(&raw[i].example)), Some(&format!("a value {register_type} can hold after scale {scale} and offset {offset}", register_type = r.register_type, scale = show_scale(&r.scale), offset = r.offset))));
                }
            }
            if let Some(w) = &r.write
                && let Some(v) = value.as_f64()
                && r.enumeration.is_empty()
                && r.format.is_none()
            {
                let allowed = describe_rule(w);
                if let Some(problem) = static_violation(w, v) {
                    return Err(self.at(
                        &path,
                        name,
                        format!("the example {v} {problem}"),
                        Some(&allowed),
                    ));
                }
            }
            registers[i].example = value;
        }
        Ok(())
    }

    /// Registers of one unit role and table must not share an address.
    pub(super) fn overlaps(&self, registers: &[Register]) -> Check<()> {
        let mut order: Vec<usize> = (0..registers.len()).collect();
        order.sort_by_key(|&i| {
            let r = &registers[i];
            (unit_key(&r.unit_id), r.table, r.wire_address, i)
        });
        for pair in order.windows(2) {
            let (a, b) = (&registers[pair[0]], &registers[pair[1]]);
            if self.skipped(&a.name) || self.skipped(&b.name) {
                continue;
            }
            if unit_key(&a.unit_id) == unit_key(&b.unit_id)
                && a.table == b.table
                && u32::from(b.wire_address) <= a.last_wire_address()
            {
                let later = pair[0].max(pair[1]);
                let (other, this) = if later == pair[1] { (a, b) } else { (b, a) };
                return Err(self.at(
                    &self.rp(later, "address"),
                    Some(&this.name),
                    format!(
                        "wire addresses {}..={} overlap register `{}` ({}..={}) on the same unit and table",
                        this.wire_address,
                        this.last_wire_address(),
                        other.name,
                        other.wire_address,
                        other.last_wire_address()
                    ),
                    Some("registers that share no address; check the address and the count"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn writable_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: &str,
    ) -> Check<&'r Register> {
        let Some(t) = registers.iter().find(|r| r.name == target) else {
            let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
            return Err(self.at_key(
                path,
                Some(item),
                format!(
                    "`{target}` is not a register of this map{}",
                    did_you_mean(hint)
                ),
                None,
            ));
        };
        if !t.access.writable() {
            return Err(self.at_key(
                path,
                Some(item),
                format!("register `{target}` is read-only"),
                Some("registers with access rw or w"),
            ));
        }
        Ok(t)
    }
}
