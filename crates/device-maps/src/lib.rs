//! Device register maps written in YAML.
//!
//! A device (a charger, a meter, an inverter) is described by one YAML file in `devices/`: its
//! connection defaults and every register with its type, order, scale, unit and meaning. This
//! crate loads those files strictly, so a mistake is an error naming file, line and column, and
//! plans reads and writes over them through a register I/O trait. It never speaks Modbus itself.
