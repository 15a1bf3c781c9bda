//! Renderings of a device reading for people and for the tools they already run.
//!
//! A snapshot read from a device becomes aligned human text, JSON (flat or nested by group),
//! Prometheus text exposition, or InfluxDB line protocol. Every function here is pure: a snapshot
//! in, a string out, so the CLI, the service and other programs render identically.
