//! End-to-end tests of the `finops` binary: one integration test binary, one module per
//! topic. Every test runs in its own temp dir with a clean environment.

mod anomalies;
mod bad_input;
mod budget;
mod chargeback;
mod demo;
mod formats;
mod formats_anthropic;
mod formats_aws;
mod formats_azure;
mod formats_gateways;
mod formats_gcp;
mod formats_openai;
mod formats_oracle;
mod hardening;
mod ingest;
mod policy;
mod report;
mod simulate;
mod store;
mod store_table;
mod util;
