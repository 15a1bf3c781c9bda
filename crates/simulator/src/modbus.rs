//! A Modbus TCP server that serves any device map, with fault injection.
