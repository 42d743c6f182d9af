//! `finops chargeback --month M` (docs/commands/chargeback.md): per team, direct cost,
//! shared cost allocated, unattributed share and the total charged, reconciled to the
//! month's billed total to the cent.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::allocate;
use crate::cli::ChargebackArgs;
use crate::config::{Basis, Config, Method};
use crate::context::Context;
use crate::error::exit;
use crate::money::{Money, Overflow};
use crate::output::{Cell, Column, ColumnKind, Report};
use crate::spend::{self, Class, Spend};
use crate::store::Store;
use crate::timeparse::Month;

/// The line of unattributed spend (policy `separate`).
pub const UNATTRIBUTED: &str = "(unattributed)";

/// What one team is charged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamLine {
    pub direct: Money,
    pub shared: Money,
    pub unattributed: Money,
    /// Drivers over the month's direct rows.
    pub requests: i128,
    pub tokens: i128,
}

impl TeamLine {
    pub fn total(&self) -> Result<Money, Overflow> {
        self.direct.try_add(self.shared)?.try_add(self.unattributed)
    }
}

/// One allocation, for `--explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub team: String,
    pub pool: String,
    pub method: &'static str,
    pub basis: &'static str,
    /// The team's driver and the sum of all drivers (or its fraction as 10⁻¹⁸ units of 1).
    pub driver: i128,
    pub driver_total: i128,
    pub amount: Money,
}

/// A month's chargeback, exact.
#[derive(Debug, Clone, Default)]
pub struct Chargeback {
    pub currency: String,
    pub teams: BTreeMap<String, TeamLine>,
    /// Unattributed spend kept on its own line (policy `separate`, or nothing to split by).
    pub unattributed: Money,
    /// Overhead pools, not split.
    pub overhead: BTreeMap<String, Money>,
    /// Σ cost of the bill rows of the billing period.
    pub billed_total: Money,
    /// Σ cost of usage rows of providers without a bill that month.
    pub usage_total: Money,
    pub allocations: Vec<Allocation>,
    /// Providers whose request logs were not counted because the month has their bill.
    pub usage_superseded: BTreeSet<String>,
    /// How much of the bill request logs attributed (SPEC §4.4).
    pub attributed_by_usage: Money,
}

impl Chargeback {
    /// What the report adds up to.
    pub fn report_total(&self) -> Result<Money, Overflow> {
        let mut t = self.unattributed;
        for line in self.teams.values() {
            t.add_assign(line.total()?)?;
        }
        t.try_add(Money::try_sum(self.overhead.values().copied())?)
    }
}

/// Computes a chargeback from a month's classified money.
pub fn compute(cfg: &Config, mm: &Spend) -> Result<Chargeback> {
    let mut cb = Chargeback {
        currency: mm.currency.clone(),
        billed_total: mm.billed_total,
        usage_total: mm.usage_total,
        usage_superseded: mm.usage_superseded.clone(),
        attributed_by_usage: mm.attributed_by_usage,
        ..Chargeback::default()
    };
    let mut pool_money: BTreeMap<usize, Money> = BTreeMap::new();
    for item in &mm.items {
        match &item.class {
            Class::Pool(i) => pool_money.entry(*i).or_default().add_assign(item.amount)?,
            Class::Owned(owner) => match &owner.team {
                Some(team) => {
                    let line = cb.teams.entry(team.clone()).or_default();
                    line.direct.add_assign(item.amount)?;
                    line.requests = line
                        .requests
                        .checked_add(item.group.requests)
                        .ok_or(Overflow)?;
                    line.tokens = line.tokens.checked_add(item.group.tokens).ok_or(Overflow)?;
                }
                None => cb.unattributed.add_assign(item.amount)?,
            },
        }
    }
    // Teams with direct spend, and their drivers.
    let direct_teams: Vec<String> = cb
        .teams
        .iter()
        .filter(|(_, l)| l.direct != Money::ZERO)
        .map(|(t, _)| t.clone())
        .collect();
    // Drivers come from direct rows only, so they are fixed before anything is shared.
    let by_basis: BTreeMap<Basis, BTreeMap<String, i128>> =
        [Basis::Cost, Basis::Requests, Basis::Tokens]
            .into_iter()
            .map(|basis| {
                let w = direct_teams
                    .iter()
                    .map(|t| {
                        let l = &cb.teams[t];
                        let w = match basis {
                            Basis::Cost => l.direct.0.max(0),
                            Basis::Requests => l.requests.max(0),
                            Basis::Tokens => l.tokens.max(0),
                        };
                        (t.clone(), w)
                    })
                    .collect();
                (basis, w)
            })
            .collect();
    let drivers = |basis: Basis| by_basis[&basis].clone();
    let mut shares: Vec<(String, Money, Allocation)> = Vec::new();
    for (i, amount) in &pool_money {
        let pool = &cfg.shared[*i];
        let (method, basis, weights): (&str, &str, BTreeMap<String, i128>) = match pool.method {
            Method::Overhead => {
                cb.overhead
                    .entry(pool.name.get_ref().clone())
                    .or_default()
                    .add_assign(*amount)?;
                continue;
            }
            Method::Proportional => ("proportional", basis_name(pool.basis), drivers(pool.basis)),
            Method::Even => (
                "even",
                "teams",
                direct_teams.iter().map(|t| (t.clone(), 1)).collect(),
            ),
            Method::Fixed => (
                "fixed",
                "fraction",
                pool.split
                    .as_ref()
                    .map(|s| {
                        s.get_ref()
                            .iter()
                            .map(|(t, f)| (t.clone(), f.0 .0))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        };
        match allocate::split(*amount, &weights) {
            Some(split) => {
                let total = driver_total(&weights)?;
                for (team, share) in split {
                    let alloc = Allocation {
                        team: team.clone(),
                        pool: pool.name.get_ref().clone(),
                        method,
                        basis,
                        driver: weights[&team],
                        driver_total: total,
                        amount: share,
                    };
                    shares.push((team, share, alloc));
                }
            }
            // No team to split over: held centrally.
            None => cb
                .overhead
                .entry(pool.name.get_ref().clone())
                .or_default()
                .add_assign(*amount)?,
        }
    }
    for (team, share, alloc) in shares {
        cb.teams.entry(team).or_default().shared.add_assign(share)?;
        cb.allocations.push(alloc);
    }
    // Unattributed spend, by policy.
    let policy = cfg
        .attribution
        .unattributed
        .as_ref()
        .map(|u| u.get_ref().as_str());
    match policy {
        None | Some("separate") => {}
        Some("proportional") => {
            let weights = drivers(Basis::Cost);
            if let Some(split) = allocate::split(cb.unattributed, &weights) {
                let total = driver_total(&weights)?;
                for (team, share) in split {
                    cb.allocations.push(Allocation {
                        team: team.clone(),
                        pool: UNATTRIBUTED.into(),
                        method: "proportional",
                        basis: "cost",
                        driver: weights[&team],
                        driver_total: total,
                        amount: share,
                    });
                    cb.teams
                        .entry(team)
                        .or_default()
                        .unattributed
                        .add_assign(share)?;
                }
                cb.unattributed = Money::ZERO;
            }
        }
        Some(team) => {
            if cb.unattributed != Money::ZERO {
                cb.allocations.push(Allocation {
                    team: team.to_string(),
                    pool: UNATTRIBUTED.into(),
                    method: "charged",
                    basis: "config",
                    driver: 1,
                    driver_total: 1,
                    amount: cb.unattributed,
                });
                cb.teams
                    .entry(team.to_string())
                    .or_default()
                    .unattributed
                    .add_assign(cb.unattributed)?;
                cb.unattributed = Money::ZERO;
            }
        }
    }
    Ok(cb)
}

/// Σ of a split's drivers (each fits an i128 and is non-negative), checked.
fn driver_total(weights: &BTreeMap<String, i128>) -> Result<i128, Overflow> {
    weights
        .values()
        .try_fold(0i128, |a, &w| a.checked_add(w.max(0)))
        .ok_or(Overflow)
}

fn basis_name(b: Basis) -> &'static str {
    match b {
        Basis::Cost => "cost",
        Basis::Requests => "requests",
        Basis::Tokens => "tokens",
    }
}

const COLUMNS: [Column; 8] = [
    Column::new("team", "Team", ColumnKind::Text),
    Column::new("budget", "Budget", ColumnKind::Money),
    Column::new("direct", "Direct", ColumnKind::Money),
    Column::new("shared", "Shared", ColumnKind::Money),
    Column::new(
        "unattributed_share",
        "Unattributed share",
        ColumnKind::Money,
    ),
    Column::new("total", "Total charged", ColumnKind::Money),
    Column::new("variance", "Budget − total", ColumnKind::Money),
    Column::new("utilisation", "Utilisation", ColumnKind::Ratio),
];

fn ratio(a: Money, b: Money) -> Cell {
    if b.0 == 0 {
        Cell::Null
    } else {
        Cell::Ratio(a.0 as f64 / b.0 as f64)
    }
}

/// The chargeback as a report.
pub fn report(cfg: &Config, month: Month, cb: &Chargeback) -> Result<Report> {
    let mut r = Report::new(
        "chargeback",
        format!("Chargeback {month}"),
        COLUMNS.to_vec(),
    );
    r.period = Some(month.to_string());
    r.currency = Some(cb.currency.clone());
    r.parameters.insert("month".into(), month.to_string());
    let cur = cb.currency.as_str();
    let m = |x: Money| Cell::money(x, cur);
    let budget = |team: &str| {
        cfg.teams
            .iter()
            .find(|t| t.name.get_ref() == team)
            .and_then(|t| t.budget.as_ref())
            .map(|a| a.get_ref().0)
    };
    let too_large = || format!("chargeback {month}: totals beyond what can be held exactly");
    // Every configured team has a line (its budget is tracked even without spend).
    let mut lines = cb.teams.clone();
    for t in &cfg.teams {
        lines.entry(t.name.get_ref().clone()).or_default();
    }
    for (team, line) in &lines {
        let b = budget(team);
        let total = line.total().with_context(too_large)?;
        let variance = b
            .map(|b| b.try_sub(total))
            .transpose()
            .with_context(too_large)?;
        r.rows.push(vec![
            Cell::text(team.clone()),
            b.map_or(Cell::Null, m),
            m(line.direct),
            m(line.shared),
            m(line.unattributed),
            m(total),
            variance.map_or(Cell::Null, m),
            b.map_or(Cell::Null, |b| ratio(total, b)),
        ]);
    }
    let extra = |name: String, amount: Money| {
        vec![
            Cell::text(name),
            Cell::Null,
            m(amount),
            m(Money::ZERO),
            m(Money::ZERO),
            m(amount),
            Cell::Null,
            Cell::Null,
        ]
    };
    if cb.unattributed != Money::ZERO {
        r.rows.push(extra(UNATTRIBUTED.into(), cb.unattributed));
    }
    for (pool, amount) in &cb.overhead {
        r.rows.push(extra(format!("(overhead) {pool}"), *amount));
    }
    let sum = |f: &dyn Fn(&TeamLine) -> Result<Money, Overflow>| -> Result<Money> {
        let mut t = Money::ZERO;
        for l in cb.teams.values() {
            t.add_assign(f(l)?)?;
        }
        Ok(t)
    };
    let others = Money::try_sum(cb.overhead.values().copied())
        .and_then(|o| o.try_add(cb.unattributed))
        .with_context(too_large)?;
    let total_budget: Option<Money> = lines
        .keys()
        .map(|t| budget(t))
        .collect::<Option<Vec<_>>>()
        .map(Money::try_sum)
        .transpose()
        .with_context(too_large)?;
    let report_total = cb.report_total().with_context(too_large)?;
    let direct = sum(&|l| Ok(l.direct))?
        .try_add(others)
        .with_context(too_large)?;
    r.totals.push(vec![
        Cell::text("total"),
        Cell::Null,
        m(direct),
        m(sum(&|l| Ok(l.shared))?),
        m(sum(&|l| Ok(l.unattributed))?),
        m(report_total),
        Cell::Null,
        total_budget.map_or(Cell::Null, |b| {
            sum(&|l| l.total()).map_or(Cell::Null, |t| ratio(t, b))
        }),
    ]);
    let rec =
        crate::output::Reconciliation::new(cur, cb.billed_total, cb.usage_total, report_total)
            .with_context(too_large)?;
    let fmt = |x: Money| x.in_minor_units(cur);
    r.notes.push(format!(
        "{} billed total of {month} ({} in bills{}) = {} {cur}; this chargeback = {} {cur}",
        if rec.reconciles() {
            "Reconciles:"
        } else {
            "DOES NOT RECONCILE:"
        },
        fmt(cb.billed_total),
        if cb.usage_total != Money::ZERO {
            format!(
                ", {} from request logs of providers without a bill",
                fmt(cb.usage_total)
            )
        } else {
            String::new()
        },
        fmt(rec.expected_total),
        fmt(report_total),
    ));
    if !cb.usage_superseded.is_empty() {
        let share = if cb.billed_total.0 == 0 {
            0.0
        } else {
            cb.attributed_by_usage.0 as f64 / cb.billed_total.0 as f64 * 100.0
        };
        r.notes.push(format!(
            "request logs of {} carry no money of their own (the bill does); they attributed {} {cur} of the bill ({share:.1}%), split per provider, model and day by logged cost",
            cb.usage_superseded.iter().cloned().collect::<Vec<_>>().join(", "),
            fmt(cb.attributed_by_usage),
        ));
    }
    r.reconciliation = Some(rec);
    Ok(r)
}

/// `--explain`: each allocation with its pool, method, driver and ratio.
pub fn explain(month: Month, cb: &Chargeback) -> Report {
    let cols = vec![
        Column::new("team", "Team", ColumnKind::Text),
        Column::new("pool", "Pool", ColumnKind::Text),
        Column::new("method", "Method", ColumnKind::Text),
        Column::new("basis", "Driver", ColumnKind::Text),
        Column::new("ratio", "Ratio", ColumnKind::Ratio),
        Column::new("amount", "Amount", ColumnKind::Money),
    ];
    let mut r = Report::new(
        "chargeback-explain",
        format!("Chargeback {month}: allocations"),
        cols,
    );
    r.period = Some(month.to_string());
    r.currency = Some(cb.currency.clone());
    for a in &cb.allocations {
        r.rows.push(vec![
            Cell::text(a.team.clone()),
            Cell::text(a.pool.clone()),
            Cell::text(a.method),
            Cell::text(a.basis),
            if a.driver_total == 0 {
                Cell::Null
            } else {
                Cell::Ratio(a.driver as f64 / a.driver_total as f64)
            },
            Cell::money(a.amount, cb.currency.clone()),
        ]);
    }
    r
}

pub fn run(ctx: &Context, args: &ChargebackArgs) -> Result<u8> {
    let month = args.month;
    let store = Store::open_read(&ctx.store_dir, &|m| ctx.note(m))?;
    let mm = spend::load(&ctx.config, &store, month, &[], spend::needs(&ctx.config))?;
    if mm.items.is_empty() && mm.usage_superseded.is_empty() {
        anyhow::bail!("the store has no bill rows for billing period {month} and no request logs in {month}; `finops sources` lists what it holds");
    }
    let cb = compute(&ctx.config, &mm).with_context(|| {
        format!("chargeback {month}: amounts add up beyond what can be held exactly")
    })?;
    let report = if args.explain {
        explain(month, &cb)
    } else {
        report(&ctx.config, month, &cb)?
    };
    crate::output::emit(ctx, report)?;
    Ok(exit::OK)
}
