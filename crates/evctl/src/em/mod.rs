//! `evctl em`: EVSEMaster chargers over UDP.
