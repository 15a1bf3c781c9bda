//! A simulated EVSEMaster charger on UDP.
