//! One module per command.

pub mod anomalies;
pub mod chargeback;
pub mod ingest;
pub mod init;
pub mod report;
pub mod showback;
pub mod sources;
pub mod untagged;
