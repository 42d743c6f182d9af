//! Queries over the store (the reports' only polars code). A month's rows are scanned
//! lazily and aggregated by just the fields attribution needs, so what comes back to Rust
//! is small (distinct combinations of tags, provider and the like), however many rows the
//! store holds.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use polars::prelude::{
    col, len, lit, when, DataFrame, DataType, Expr, IntoLazy, LazyFrame, PlRefPath,
    ScanArgsParquet, UnionArgs,
};

use crate::config::Field;
use crate::model::Kind;
use crate::money::Money;
use crate::period::{Calendar, Day, Span};
use crate::store::Store;
use crate::timeparse::{Micros, Month};

/// Rows of one kind that share every grouped value.
#[derive(Debug, Clone)]
pub struct Group {
    pub kind: Kind,
    pub provider: String,
    pub currency: String,
    pub charge_category: String,
    /// Values of the requested fields, in request order (tags fields excluded).
    pub fields: Vec<Option<String>>,
    pub tags: BTreeMap<String, String>,
    pub cost: Money,
    /// Σ requests and Σ tokens, summed as 128-bit integers (no sum of 64-bit counts can
    /// overflow them).
    pub requests: i128,
    pub tokens: i128,
    /// With [`Needs::tokens`]: Σ input tokens and Σ cached input tokens (a cache hit rate).
    pub input_tokens: i128,
    pub cached_tokens: i128,
    pub rows: u64,
    /// With [`Needs::cells`]: the model. The day (days since 1970-01-01): with
    /// [`Needs::cells`] over an invoice month the UTC day, over [`Select::Days`] the local
    /// day.
    pub model: Option<String>,
    pub day: Option<i64>,
}

fn column_name(f: &Field) -> Option<&'static str> {
    Some(match f {
        Field::Provider => return None,
        Field::Model => "model",
        Field::Service => "service",
        Field::Sku => "sku",
        Field::Region => "region",
        Field::ProjectId => "project_id",
        Field::WorkspaceId => "workspace_id",
        Field::ApiKeyId => "api_key_id",
        Field::BillingAccount => "billing_account",
        Field::SubAccount => "sub_account",
        Field::ResourceId => "resource_id",
        Field::UserId => "user_id",
        Field::Kind | Field::ChargeCategory => return None,
        Field::SourceFormat => "source_format",
        Field::Tag(_) => return None,
    })
}

/// The columns grouped on for `fields` (besides kind, provider, currency, category, tags).
pub fn extra_columns(fields: &[Field]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = fields.iter().filter_map(column_name).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The store's files of `kind` in the UTC month partitions `months` (all when None).
fn scan(store: &Store, kind: Kind, months: Option<&[Month]>) -> Result<Option<LazyFrame>> {
    let prefixes: Vec<String> = match months {
        Some(ms) => ms
            .iter()
            .map(|m| format!("data/{}/{m}/", kind.as_str()))
            .collect(),
        None => vec![format!("data/{}/", kind.as_str())],
    };
    let paths: Vec<PlRefPath> = store
        .manifest()
        .files
        .iter()
        .filter(|f| prefixes.iter().any(|p| f.path.starts_with(p)))
        .map(|f| PlRefPath::new(store.root().join(&f.path).to_string_lossy().as_ref()))
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    let frames = paths
        .into_iter()
        .map(|p| LazyFrame::scan_parquet(p, ScanArgsParquet::default()))
        .collect::<polars::prelude::PolarsResult<Vec<_>>>()?;
    Ok(Some(polars::prelude::concat(frames, UnionArgs::default())?))
}

/// Which rows a query reads.
#[derive(Debug, Clone)]
pub enum Select {
    /// Money that must match an invoice (SPEC §2.2): bill rows of billing period M, usage
    /// rows of calendar month M in UTC. With [`Needs::cells`], groups carry the UTC day.
    Invoice(Month),
    /// Rows whose `charge_start` is in the span, each group carrying its local day.
    Days {
        span: Span,
        /// From [`Calendar::offsets`]: the UTC offset over each piece of the span.
        offsets: Vec<(Micros, Micros)>,
    },
}

impl Select {
    pub fn days(cal: &Calendar, first: Day, last: Day) -> Select {
        let span = cal.span(first, last);
        Select::Days {
            span,
            offsets: cal.offsets(span),
        }
    }

    fn label(&self) -> String {
        match self {
            Select::Invoice(m) => m.to_string(),
            Select::Days { span, .. } => format!(
                "{}..{}",
                crate::timeparse::rfc3339(span.start),
                crate::timeparse::rfc3339(span.end)
            ),
        }
    }

    /// The rows of `kind` this selection reads, with a `cell_day` column when grouped by
    /// day.
    fn rows(&self, store: &Store, kind: Kind, by_day: bool) -> Result<Option<LazyFrame>> {
        let t = || col("charge_start").cast(DataType::Int64);
        Ok(match self {
            Select::Invoice(month) => {
                let lf = match kind {
                    Kind::Bill => scan(store, kind, None)?
                        .map(|lf| lf.filter(col("billing_period").eq(lit(month.to_string())))),
                    Kind::Usage => scan(store, kind, Some(&[*month]))?,
                };
                lf.map(|lf| {
                    if by_day {
                        lf.with_column(day_number(t()).alias("cell_day"))
                    } else {
                        lf
                    }
                })
            }
            Select::Days { span, offsets } => {
                // Offsets reach ±26 h: the partitions of the neighbouring days too.
                let margin = Span {
                    start: span.start.saturating_sub(crate::timeparse::MICROS_PER_DAY),
                    end: span.end.saturating_add(crate::timeparse::MICROS_PER_DAY),
                };
                scan(store, kind, Some(&margin.utc_months()))?.map(|lf| {
                    lf.filter(t().gt_eq(lit(span.start)).and(t().lt(lit(span.end))))
                        .with_column(local_day(t(), offsets).alias("cell_day"))
                })
            }
        })
    }
}

/// ⌊t / 1 day⌋ in integer arithmetic: shifted by 720,000 days so that every instant from
/// year 1 on is positive, where integer division is floor division.
fn day_number(t: Expr) -> Expr {
    const SHIFT: i64 = 720_000;
    (t + lit(SHIFT * crate::timeparse::MICROS_PER_DAY)) / lit(crate::timeparse::MICROS_PER_DAY)
        - lit(SHIFT)
}

/// ⌊(t + offset) / 1 day⌋, with the offset of the piece `t` is in.
fn local_day(t: Expr, offsets: &[(Micros, Micros)]) -> Expr {
    let day = |off: Micros| day_number(t.clone() + lit(off));
    match offsets {
        [] => day(0),
        [(_, only)] => day(*only),
        [(_, first), rest @ ..] => when(t.clone().lt(lit(rest[0].0)))
            .then(day(*first))
            .otherwise(local_day(t, rest)),
    }
}

/// A string column's values.
fn str_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// A DECIMAL column's values as amounts (nulls are zero).
fn money_column(df: &DataFrame, name: &str) -> Result<Vec<Money>> {
    let col = df.column(name)?.decimal()?;
    let scale = col.scale() as u32;
    col.physical()
        .iter()
        .map(|v| {
            Money::from_decimal(v.unwrap_or(0), scale).map_err(|_| {
                anyhow::anyhow!(
                    "the store's amounts add up beyond what can be held exactly (the store limits the sum of all magnitudes to 10^20; see docs/store.md)"
                )
            })
        })
        .collect()
}

/// Runs a query on polars' streaming engine: the rows flow through in batches, so memory
/// grows with the groups it returns, not with the rows it scans.
pub fn collect(lf: LazyFrame) -> polars::prelude::PolarsResult<DataFrame> {
    Ok(lf
        .collect_with_engine(polars::prelude::Engine::Streaming)?
        .unwrap_single())
}

/// Which drivers beyond cost a query must sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub requests: bool,
    pub tokens: bool,
    /// Group by model and day too (to split bills by request logs, SPEC §4.4).
    pub cells: bool,
}

/// The selected rows, grouped by kind, provider, currency, tags, the columns of `fields`
/// (and by model and day as `needs` and the selection ask). Only the columns asked for
/// are read.
pub fn groups(
    store: &Store,
    select: &Select,
    fields: &[Field],
    needs: Needs,
) -> Result<Vec<Group>> {
    let extra = extra_columns(fields);
    let mut out = Vec::new();
    let by_day = needs.cells || matches!(select, Select::Days { .. });
    for kind in [Kind::Bill, Kind::Usage] {
        let Some(lf) = select.rows(store, kind, by_day)? else {
            continue;
        };
        // charge_category only when a rule or pool names it: every key costs a column read
        // and a hash per row.
        let by_category = fields.contains(&Field::ChargeCategory);
        let mut keys = vec![col("provider"), col("currency"), col("tags")];
        if by_category {
            keys.push(col("charge_category"));
        }
        keys.extend(extra.iter().map(|c| col(*c)));
        if needs.cells {
            keys.push(col("model").alias("cell_model"));
        }
        if by_day {
            keys.push(col("cell_day"));
        }
        let df = collect(lf.group_by(keys).agg([
            col("cost").sum().alias("cost"),
            len().alias("rows"),
            if needs.requests {
                col("requests")
                    .cast(DataType::Int128)
                    .sum()
                    .alias("requests")
            } else {
                lit(0i64).cast(DataType::Int128).alias("requests")
            },
            if needs.tokens {
                (col("input_tokens")
                    .fill_null(lit(0i64))
                    .cast(DataType::Int128)
                    + col("output_tokens")
                        .fill_null(lit(0i64))
                        .cast(DataType::Int128))
                .sum()
                .alias("tokens")
            } else {
                lit(0i64).cast(DataType::Int128).alias("tokens")
            },
            token_sum(needs.tokens, "input_tokens"),
            token_sum(needs.tokens, "cached_input_tokens"),
        ]))
        .with_context(|| {
            format!(
                "cannot read the {} rows of {}",
                kind.as_str(),
                select.label()
            )
        })?;
        out.extend(to_groups(kind, &df, &extra, fields, needs.cells, by_day)?);
    }
    Ok(out)
}

/// Σ of a token column as a 128-bit integer (nulls count as zero), or 0 when not needed.
fn token_sum(needed: bool, name: &str) -> Expr {
    if needed {
        col(name)
            .fill_null(lit(0i64))
            .cast(DataType::Int128)
            .sum()
            .alias(name)
    } else {
        lit(0i64).cast(DataType::Int128).alias(name)
    }
}

/// A group's tags from the store's tags text (none: no tags).
fn parse_tags(text: Option<&str>) -> Result<BTreeMap<String, String>> {
    match text {
        Some(t) => crate::model::parse_tags_object(t).map_err(|e| anyhow::anyhow!(e)),
        None => Ok(BTreeMap::new()),
    }
}

/// The values of `fields` in a row whose `extra` columns' values `value(j)` gives.
fn field_values(
    fields: &[Field],
    extra: &[&str],
    value: impl Fn(usize) -> Option<String>,
) -> Vec<Option<String>> {
    fields
        .iter()
        .map(|f| {
            column_name(f)
                .and_then(|c| extra.iter().position(|e| *e == c))
                .and_then(&value)
        })
        .collect()
}

fn to_groups(
    kind: Kind,
    df: &DataFrame,
    extra: &[&str],
    fields: &[Field],
    cells: bool,
    by_day: bool,
) -> Result<Vec<Group>> {
    let s = |name: &str| str_column(df, name);
    let provider = s("provider")?;
    let currency = s("currency")?;
    let category = if fields.contains(&Field::ChargeCategory) {
        s("charge_category")?
    } else {
        vec![None; df.height()]
    };
    let tags = s("tags")?;
    let cost = money_column(df, "cost")?;
    let requests = df.column("requests")?.cast(&DataType::Int128)?;
    let requests = requests.i128()?.clone();
    let tokens = df.column("tokens")?.cast(&DataType::Int128)?;
    let tokens = tokens.i128()?.clone();
    let int128 = |name: &str| -> Result<Vec<i128>> {
        let c = df.column(name)?.cast(&DataType::Int128)?;
        Ok(c.i128()?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let input_tokens = int128("input_tokens")?;
    let cached_tokens = int128("cached_input_tokens")?;
    let rows = df
        .column("rows")?
        .cast(&polars::prelude::DataType::UInt64)?;
    let rows = rows.u64()?.clone();
    let extra_values: Vec<Vec<Option<String>>> =
        extra.iter().map(|c| s(c)).collect::<Result<_>>()?;
    let cell_model = if cells {
        s("cell_model")?
    } else {
        vec![None; df.height()]
    };
    let cell_day: Vec<Option<i64>> = if by_day {
        let day = df.column("cell_day")?.cast(&DataType::Int64)?;
        day.i64()?.iter().collect()
    } else {
        vec![None; df.height()]
    };
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let tag_map = parse_tags(tags[i].as_deref())?;
        let field_values = field_values(fields, extra, |j| extra_values[j][i].clone());
        out.push(Group {
            kind,
            provider: provider[i].clone().unwrap_or_default(),
            currency: currency[i].clone().unwrap_or_default(),
            charge_category: category[i].clone().unwrap_or_default(),
            fields: field_values,
            tags: tag_map,
            cost: cost[i],
            requests: requests.get(i).unwrap_or(0),
            tokens: tokens.get(i).unwrap_or(0),
            input_tokens: input_tokens[i],
            cached_tokens: cached_tokens[i],
            rows: rows.get(i).unwrap_or(0),
            model: cell_model[i].clone(),
            day: cell_day[i],
        });
    }
    Ok(out)
}

/// The distinct attribution profiles of usage rows with a session id: what a session's rows
/// are attributed by (provider, currency, tags, the columns of `fields`).
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// As groups without money (to attribute them).
    pub groups: Vec<Group>,
    /// The raw key columns of each: provider, currency, tags text, then the extra columns.
    keys: Vec<Vec<Option<String>>>,
    extra: Vec<&'static str>,
}

/// A session's rows of one bucket (see [`session_costs`]).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub bucket: u32,
    /// Σ cost of its rows (in the bucket's currency).
    pub cost: Money,
    /// Its first request.
    pub first: Micros,
}

/// Usage rows with a session id in `span`.
fn session_rows(store: &Store, span: Span) -> Result<Option<LazyFrame>> {
    let t = || col("charge_start").cast(DataType::Int64);
    Ok(
        scan(store, Kind::Usage, Some(&span.utc_months()))?.map(|lf| {
            lf.filter(
                col("session_id")
                    .is_not_null()
                    .and(t().gt_eq(lit(span.start)))
                    .and(t().lt(lit(span.end))),
            )
        }),
    )
}

fn profile_columns(extra: &[&'static str]) -> Vec<Expr> {
    let mut keys = vec![col("provider"), col("currency"), col("tags")];
    keys.extend(extra.iter().map(|c| col(*c)));
    keys
}

/// The profiles of the sessions in `span`.
pub fn session_profiles(store: &Store, span: Span, fields: &[Field]) -> Result<Profiles> {
    let extra = extra_columns(fields);
    let Some(lf) = session_rows(store, span)? else {
        return Ok(Profiles {
            extra,
            ..Profiles::default()
        });
    };
    let df = collect(
        lf.group_by(profile_columns(&extra))
            .agg([len().alias("rows")]),
    )
    .context("cannot read the sessions of the request logs")?;
    let mut names = vec!["provider", "currency", "tags"];
    names.extend(extra.iter().copied());
    let columns: Vec<Vec<Option<String>>> = names
        .iter()
        .map(|c| str_column(&df, c))
        .collect::<Result<_>>()?;
    let mut out = Profiles {
        extra: extra.clone(),
        ..Profiles::default()
    };
    for i in 0..df.height() {
        let key: Vec<Option<String>> = columns.iter().map(|c| c[i].clone()).collect();
        let tags = parse_tags(key[2].as_deref())?;
        let field_values = field_values(fields, &extra, |j| key[3 + j].clone());
        out.groups.push(Group {
            kind: Kind::Usage,
            provider: key[0].clone().unwrap_or_default(),
            currency: key[1].clone().unwrap_or_default(),
            charge_category: String::new(),
            fields: field_values,
            tags,
            cost: Money::ZERO,
            requests: 0,
            tokens: 0,
            input_tokens: 0,
            cached_tokens: 0,
            rows: 0,
            model: None,
            day: None,
        });
        out.keys.push(key);
    }
    Ok(out)
}

/// The rows of `lf` joined to the bucket of their profile: a small table (one row per
/// profile) that the rows probe as they stream by.
fn with_bucket(lf: LazyFrame, profiles: &Profiles, bucket: &[u32]) -> Result<LazyFrame> {
    let mut names = vec!["provider", "currency", "tags"];
    names.extend(profiles.extra.iter().copied());
    let mut columns: Vec<polars::prelude::Column> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let values: Vec<Option<&str>> = profiles.keys.iter().map(|k| k[j].as_deref()).collect();
            polars::prelude::Column::new((*name).into(), values)
        })
        .collect();
    columns.push(polars::prelude::Column::new(
        "bucket".into(),
        bucket.to_vec(),
    ));
    let table = DataFrame::new(profiles.keys.len(), columns)?.lazy();
    let mut args = polars::prelude::JoinArgs::new(polars::prelude::JoinType::Inner);
    args.nulls_equal = true;
    args.build_side = Some(polars::prelude::JoinBuildSide::ForceRight);
    let on = profile_columns(&profiles.extra);
    Ok(lf.join(table, on.clone(), on, args))
}

/// The sessions with rows in `span`: per session id and *bucket* (`bucket[i]` is the
/// bucket of profile `i`; a caller puts the profiles of one line and currency in one
/// bucket), the cost and the first request of its rows there. Only the id and a number per
/// row are grouped, so memory grows with the sessions, not with their tags.
pub fn session_costs(
    store: &Store,
    span: Span,
    profiles: &Profiles,
    bucket: &[u32],
) -> Result<Vec<SessionRow>> {
    let Some(lf) = session_rows(store, span)? else {
        return Ok(Vec::new());
    };
    if profiles.keys.is_empty() {
        return Ok(Vec::new());
    }
    let t = || col("charge_start").cast(DataType::Int64);
    let df = collect(
        with_bucket(lf, profiles, bucket)?
            .group_by([col("session_id"), col("bucket")])
            .agg([col("cost").sum().alias("cost"), t().min().alias("first")]),
    )
    .context("cannot read the sessions of the request logs")?;
    let id = df.column("session_id")?.str()?.clone();
    let b = df.column("bucket")?.u32()?.clone();
    let cost = money_column(&df, "cost")?;
    let first = df.column("first")?.cast(&DataType::Int64)?;
    let first = first.i64()?.clone();
    Ok((0..df.height())
        .map(|i| SessionRow {
            id: id.get(i).unwrap_or_default().to_string(),
            bucket: b.get(i).unwrap_or(0),
            cost: cost[i],
            first: first.get(i).unwrap_or(0),
        })
        .collect())
}

/// One request of a session, for the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub session: String,
    pub bucket: u32,
    pub at: Micros,
    pub cost: Money,
    /// The row's record id: orders requests of the same instant.
    pub record: String,
}

/// The requests in `span` of the sessions `ids`, with their bucket, in no particular order.
pub fn session_requests(
    store: &Store,
    span: Span,
    ids: &[String],
    profiles: &Profiles,
    bucket: &[u32],
) -> Result<Vec<Request>> {
    if ids.is_empty() || profiles.keys.is_empty() {
        return Ok(Vec::new());
    }
    let t = || col("charge_start").cast(DataType::Int64);
    let Some(lf) = session_rows(store, span)? else {
        return Ok(Vec::new());
    };
    let wanted = DataFrame::new(
        ids.len(),
        vec![polars::prelude::Column::new(
            "session_id".into(),
            ids.to_vec(),
        )],
    )?
    .lazy();
    let mut args = polars::prelude::JoinArgs::new(polars::prelude::JoinType::Inner);
    args.build_side = Some(polars::prelude::JoinBuildSide::ForceRight);
    let df = collect(
        with_bucket(
            lf.join(wanted, [col("session_id")], [col("session_id")], args),
            profiles,
            bucket,
        )?
        .select([
            col("session_id"),
            col("bucket"),
            t().alias("at"),
            col("cost"),
            col("record_id"),
        ]),
    )
    .context("cannot read the requests of the sessions")?;
    let session = str_column(&df, "session_id")?;
    let record = crate::store::record_ids(&df)?;
    let b = df.column("bucket")?.u32()?.clone();
    let at = df.column("at")?.cast(&DataType::Int64)?;
    let at = at.i64()?.clone();
    let cost = money_column(&df, "cost")?;
    Ok((0..df.height())
        .map(|i| Request {
            session: session[i].clone().unwrap_or_default(),
            bucket: b.get(i).unwrap_or(0),
            at: at.get(i).unwrap_or(0),
            cost: cost[i],
            record: crate::store::hex_id(record[i], &mut [0; 32]).to_string(),
        })
        .collect())
}
