//! One module per command.

pub mod ingest;
pub mod init;
pub mod sources;
