//! CSV and TSV: a header row of column keys, raw values, the totals rows last.

use std::io::Write;

use anyhow::Result;

use super::Report;

pub(super) fn render(report: &Report, delimiter: u8, w: &mut dyn Write) -> Result<()> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(w);
    out.write_record(report.columns.iter().map(|c| c.key))?;
    for row in report.rows.iter().chain(&report.totals) {
        out.write_record(row.iter().map(|c| c.raw()))?;
    }
    out.flush()?;
    Ok(())
}
