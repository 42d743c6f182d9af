//! One module per command.

pub mod anomalies;
pub mod budget;
pub mod chargeback;
pub mod ingest;
pub mod init;
pub mod policy;
pub mod report;
pub mod showback;
pub mod simulate;
pub mod sources;
pub mod untagged;
