//! The monthly executive summary (SPEC §5.4, docs/commands/report-monthly.md): the month to
//! date against the budgets, where the money went (teams, models, providers, days), the
//! forecast, anomalies, cache hit rate, premium-model share, unit costs and cost-to-value.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::anomaly::{self, History};
use crate::budget::{self, Projection, Series};
use crate::config::Config;
use crate::model::Kind;
use crate::money::Money;
use crate::org::Org;
use crate::period::{month_days, Calendar, Day};
use crate::query::{self, Needs, Select};
use crate::spend::{self, Class};
use crate::store::Store;
use crate::timeparse::Month;

/// A name with its money.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub name: String,
    pub spend: Money,
}

/// A team's month.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamMonth {
    pub name: String,
    pub spend: Money,
    pub budget: Option<Money>,
    pub forecast: Option<Money>,
}

/// A feature's spend against the value it drives (`monthly_value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub feature: String,
    pub spend: Money,
    pub value: Money,
}

/// The month's summary.
#[derive(Debug, Clone)]
pub struct Monthly {
    pub month: Month,
    pub currency: String,
    /// The last day counted: today in the current month, else the month's last day.
    pub through: Day,
    pub total: Money,
    /// Σ of the teams' monthly budgets (the features', when no team has one).
    pub budget: Option<Money>,
    /// The month-end forecast (the total itself once the month is over).
    pub forecast: Money,
    pub teams: Vec<TeamMonth>,
    pub models: Vec<Share>,
    pub providers: Vec<Share>,
    pub features: Vec<Share>,
    pub days: Vec<(Day, Money)>,
    /// Anomaly events in the month's days so far.
    pub anomalies: usize,
    /// Requests and tokens of the request logs (bill rows where a provider has no logs).
    pub requests: i128,
    pub tokens: i128,
    pub input_tokens: i128,
    pub cached_tokens: i128,
    /// Spend on `[models] premium` models.
    pub premium: Money,
    pub values: Vec<Value>,
}

fn add(map: &mut BTreeMap<String, Money>, key: String, m: Money) -> Result<()> {
    map.entry(key)
        .or_default()
        .add_assign(m)
        .context("the month's amounts add up beyond what can be held exactly")
}

/// Largest first, then by name.
fn ranked(map: BTreeMap<String, Money>) -> Vec<Share> {
    let mut v: Vec<Share> = map
        .into_iter()
        .map(|(name, spend)| Share { name, spend })
        .collect();
    v.sort_by(|a, b| b.spend.cmp(&a.spend).then_with(|| a.name.cmp(&b.name)));
    v
}

pub fn compute(cfg: &Config, store: &Store, cal: &Calendar, month: Month) -> Result<Monthly> {
    let org = Org::new(cfg)?;
    let (first, last) = month_days(month);
    let through = budget::counted_through(cal, month)?;
    let today = cal.today();
    // The month's days, and the 7 days before today for the forecast.
    let read_from = first.min(today.plus(-budget::MEAN_DAYS));
    let s = spend::load_days(
        cfg,
        &org.rules,
        store,
        cal,
        read_from,
        through,
        &[],
        Needs::default(),
    )?;
    let currency = s.currency.clone();
    let premium_rules = crate::policy::Rules::new(cfg);
    let mut series = Series::new();
    let (mut teams, mut models, mut providers, mut features) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let mut team_series: BTreeMap<String, Series> = BTreeMap::new();
    let mut premium = Money::ZERO;
    let mut total = Money::ZERO;
    let too_large = || format!("{month}: amounts add up beyond what can be held exactly");
    for item in &s.items {
        let day = Day(item.group.day.unwrap_or_default());
        let team = match &item.class {
            Class::Pool(i) => format!("(shared) {}", cfg.shared[*i].name.get_ref()),
            Class::Owned(o) => o.team.clone().unwrap_or_else(|| "(unattributed)".into()),
        };
        team_series
            .entry(team.clone())
            .or_default()
            .entry(day)
            .or_default()
            .add_assign(item.amount)
            .with_context(too_large)?;
        series
            .entry(day)
            .or_default()
            .add_assign(item.amount)
            .with_context(too_large)?;
        if day < first {
            continue;
        }
        total.add_assign(item.amount).with_context(too_large)?;
        add(&mut teams, team, item.amount)?;
        let model = item.group.model.clone().filter(|m| !m.is_empty());
        if model
            .as_deref()
            .is_some_and(|m| premium_rules.is_premium(m))
        {
            premium.add_assign(item.amount).with_context(too_large)?;
        }
        add(
            &mut models,
            model.unwrap_or_else(|| "(no model)".into()),
            item.amount,
        )?;
        add(&mut providers, item.group.provider.clone(), item.amount)?;
        if let Class::Owned(o) = &item.class {
            if let Some(f) = &o.feature {
                add(&mut features, f.clone(), item.amount)?;
            }
        }
    }
    let forecast_of = |series: &Series| -> Result<Money> {
        let p = Projection::new(series, first, last, today).with_context(too_large)?;
        match p {
            Some(p) => p.forecast().with_context(too_large),
            None => anomaly::sum_days(series, first, last).with_context(too_large),
        }
    };
    let forecast = forecast_of(&series)?;
    let mut team_rows: Vec<TeamMonth> = Vec::new();
    let names: BTreeSet<String> = teams
        .keys()
        .cloned()
        .chain(
            org.teams
                .iter()
                .filter(|(_, t)| t.budget.is_some())
                .map(|(n, _)| n.clone()),
        )
        .collect();
    for name in names {
        let empty = Series::new();
        team_rows.push(TeamMonth {
            spend: teams.get(&name).copied().unwrap_or_default(),
            budget: org.teams.get(&name).and_then(|t| t.budget),
            forecast: Some(forecast_of(team_series.get(&name).unwrap_or(&empty))?),
            name,
        });
    }
    team_rows.sort_by(|a, b| b.spend.cmp(&a.spend).then_with(|| a.name.cmp(&b.name)));
    let features = ranked(features);
    let values = org
        .features
        .iter()
        .filter_map(|(name, info)| {
            let value = info.monthly_value?;
            let spend = features
                .iter()
                .find(|f| &f.name == name)
                .map_or(Money::ZERO, |f| f.spend);
            Some(Value {
                feature: name.clone(),
                spend,
                value,
            })
        })
        .collect();
    // Requests and tokens: the request logs', and bill rows' for providers without logs.
    let counts = query::groups(
        store,
        &Select::days(cal, first, through),
        &[],
        Needs {
            requests: true,
            tokens: true,
            cells: false,
        },
    )?;
    let logged: BTreeSet<&str> = counts
        .iter()
        .filter(|g| g.kind == Kind::Usage)
        .map(|g| g.provider.as_str())
        .collect();
    let (mut requests, mut tokens, mut input_tokens, mut cached_tokens) =
        (0i128, 0i128, 0i128, 0i128);
    for g in counts
        .iter()
        .filter(|g| g.kind == Kind::Usage || !logged.contains(g.provider.as_str()))
    {
        requests = requests.saturating_add(g.requests);
        tokens = tokens.saturating_add(g.tokens);
        input_tokens = input_tokens.saturating_add(g.input_tokens);
        cached_tokens = cached_tokens.saturating_add(g.cached_tokens);
    }
    // Anomalies of the month's days so far.
    let history = History::load(cfg, &org, store, cal, anomaly::window(cal, first, through))?;
    let anomalies = anomaly::detect(&history, &org, cal, first, through)?
        .iter()
        .filter(|a| a.finding.is_event())
        .count();
    Ok(Monthly {
        month,
        currency,
        through,
        total,
        budget: org
            .monthly_budget_total()
            .context("the budgets add up beyond what can be held exactly")?,
        forecast,
        teams: team_rows,
        models: ranked(models),
        providers: ranked(providers),
        features,
        days: series
            .range(first..=through)
            .map(|(d, m)| (*d, *m))
            .collect(),
        anomalies,
        requests,
        tokens,
        input_tokens,
        cached_tokens,
        premium,
        values,
    })
}
