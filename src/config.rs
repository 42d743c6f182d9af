//! `finops.toml`: see docs/config.md for every key.
//!
//! Parsing is two steps: serde reads the file (unknown keys and wrong types are errors that
//! name the key and line), then [`Config::parse`] checks what serde cannot: that features
//! name known teams, that a fixed split sums to 1, that rule conditions name real fields.
//! Those errors name the key and line too, from the spans serde keeps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::cli::WeekStart;
use crate::money::Money;

/// The parsed, checked config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Reporting currency, ISO 4217.
    pub currency: Option<String>,
    /// IANA time zone of report days, weeks and months.
    pub timezone: Option<String>,
    /// First day of the week in reports.
    pub week_start: Option<WeekStart>,
    /// The store directory, relative to the config file.
    pub store: Option<PathBuf>,
    /// Where token prices come from.
    #[serde(default)]
    pub pricing: Pricing,
    /// `[[team]]`
    #[serde(default, rename = "team")]
    pub teams: Vec<Team>,
    /// `[[feature]]`
    #[serde(default, rename = "feature")]
    pub features: Vec<Feature>,
    #[serde(default)]
    pub attribution: Attribution,
    /// `[[mapping]]`: key → team/feature/environment/owner tables from CSV files.
    #[serde(default, rename = "mapping")]
    pub mappings: Vec<Mapping>,
    /// `[[rule]]`, in order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// `[[shared]]` cost pools.
    #[serde(default)]
    pub shared: Vec<SharedPool>,
    /// `[fx."YYYY-MM"]`: units of the reporting currency per unit of another.
    #[serde(default)]
    pub fx: BTreeMap<String, BTreeMap<String, Amount>>,
    /// Who product-week anomalies escalate to, and the last stop of every escalation.
    pub executive: Option<String>,
    /// `[models]`
    #[serde(default)]
    pub models: Models,
    /// `[[approval]]`: premium models a team or feature may use, until a date.
    #[serde(default, rename = "approval")]
    pub approvals: Vec<Approval>,
    /// `[alerts]`: budget thresholds.
    #[serde(default)]
    pub alerts: Alerts,
    /// `[anomaly]`: the rules of SPEC §5.2.
    #[serde(default)]
    pub anomaly: Anomaly,
    /// `[[experiment]]`: budgets that end on a date.
    #[serde(default, rename = "experiment")]
    pub experiments: Vec<Experiment>,
}

/// `[models]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// Globs of premium model ids (`gpt-4o*`, `claude-opus-*`).
    #[serde(default)]
    pub premium: Vec<String>,
}

/// A date written `"YYYY-MM-DD"` (or a TOML local date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub crate::period::Day);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Date(toml::value::Datetime),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Date(dt) => dt.to_string(),
        };
        crate::period::Day::parse(&text).map(Date).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{} is not a date; write \"YYYY-MM-DD\", e.g. \"2026-12-31\"",
                crate::error::quote(&text)
            ))
        })
    }
}

/// `[[approval]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub team: Option<Spanned<String>>,
    pub feature: Option<Spanned<String>>,
    /// Globs of the models approved.
    pub models: Vec<String>,
    /// The last day the approval holds (in the report's time zone).
    pub until: Spanned<Date>,
}

/// `[alerts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Utilisation at which a budget is at alert, fallback and halt.
    #[serde(default = "default_thresholds")]
    pub thresholds: Spanned<Vec<Amount>>,
    /// `budget check` also fails when the forecast month-end crosses a threshold.
    #[serde(default)]
    pub on_forecast: bool,
}

fn amount(s: &str) -> Amount {
    Amount(Money::parse(s).unwrap_or_default())
}

fn default_thresholds() -> Spanned<Vec<Amount>> {
    Spanned::new(0..0, vec![amount("0.8"), amount("0.9"), amount("1")])
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            thresholds: default_thresholds(),
            on_forecast: false,
        }
    }
}

/// `[anomaly]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    /// A session costing more than this × the feature's median session is an event.
    #[serde(default = "default_session_multiplier")]
    pub session_multiplier: Spanned<Amount>,
    /// A feature's day above this × its mean daily spend is an event.
    #[serde(default = "default_daily_multiplier")]
    pub feature_daily_multiplier: Spanned<Amount>,
    /// A week's total above this × the weekly budget is an event.
    #[serde(default = "default_weekly_multiplier")]
    pub weekly_budget_multiplier: Spanned<Amount>,
    /// Days of data a baseline needs.
    #[serde(default = "default_min_days")]
    pub min_history_days: u32,
    /// Sessions a session baseline needs.
    #[serde(default = "default_min_sessions")]
    pub min_history_sessions: u32,
}

fn default_session_multiplier() -> Spanned<Amount> {
    Spanned::new(0..0, amount("5"))
}
fn default_daily_multiplier() -> Spanned<Amount> {
    Spanned::new(0..0, amount("3"))
}
fn default_weekly_multiplier() -> Spanned<Amount> {
    Spanned::new(0..0, amount("2"))
}
fn default_min_days() -> u32 {
    7
}
fn default_min_sessions() -> u32 {
    20
}

impl Default for Anomaly {
    fn default() -> Self {
        Anomaly {
            session_multiplier: default_session_multiplier(),
            feature_daily_multiplier: default_daily_multiplier(),
            weekly_budget_multiplier: default_weekly_multiplier(),
            min_history_days: default_min_days(),
            min_history_sessions: default_min_sessions(),
        }
    }
}

/// `[[experiment]]`: a budget for a feature's trial that stops counting after `until`;
/// spend after it is flagged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: Spanned<String>,
    /// The feature whose spend the experiment is.
    pub feature: Spanned<String>,
    /// The experiment's budget over its whole run, in the reporting currency.
    pub budget: Spanned<Amount>,
    /// The first day it counts (default: no start).
    pub start: Option<Spanned<Date>>,
    /// The last day.
    pub until: Spanned<Date>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    /// A price table in the LiteLLM `model_prices_and_context_window.json` shape, used
    /// instead of the bundled one. Relative to the config file.
    pub file: Option<Spanned<PathBuf>>,
}

/// An exact amount written as a TOML integer, float or string (`12000`, `0.5`, `"0.10"`).
/// Floats are read from their shortest decimal text, so `0.1` is exactly 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amount(pub Money);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) if f.is_finite() => format!("{f}"),
            Raw::Float(_) => return Err(serde::de::Error::custom("an amount must be finite")),
            Raw::Text(s) => s,
        };
        Money::parse(&text).map(Amount).map_err(|e| {
            serde::de::Error::custom(format!(
                "{} {}; write an amount such as 12000 or 0.5",
                crate::error::quote(&text),
                e.reason(),
            ))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub name: Spanned<String>,
    /// Who is accountable for the team's spend (e-mail).
    pub owner: Option<String>,
    /// Monthly budget, in the reporting currency.
    pub budget: Option<Spanned<Amount>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub name: Spanned<String>,
    /// The team the feature belongs to; a row attributed to the feature is the team's.
    pub team: Option<Spanned<String>>,
    /// The feature's cost owner (e-mail).
    pub owner: Option<String>,
    pub budget: Option<Spanned<Amount>>,
    pub daily_budget: Option<Spanned<Amount>>,
    /// Per-session cap, for the circuit-breaker estimate.
    pub session_cap: Option<Spanned<Amount>>,
    /// Monthly revenue or value the feature drives, for cost-to-value.
    pub monthly_value: Option<Spanned<Amount>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribution {
    #[serde(default)]
    pub tag_keys: TagKeys,
    /// `separate` (default), `proportional`, or a team name.
    pub unattributed: Option<Spanned<String>>,
}

/// Tag keys read for each dimension, first present wins. Keys match verbatim.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagKeys {
    #[serde(default = "default_team_keys")]
    pub team: Vec<String>,
    #[serde(default = "default_feature_keys")]
    pub feature: Vec<String>,
    #[serde(default = "default_environment_keys")]
    pub environment: Vec<String>,
}

fn default_team_keys() -> Vec<String> {
    vec!["team".into()]
}
fn default_feature_keys() -> Vec<String> {
    vec!["feature".into()]
}
fn default_environment_keys() -> Vec<String> {
    vec!["env".into(), "environment".into()]
}

impl Default for TagKeys {
    fn default() -> Self {
        TagKeys {
            team: default_team_keys(),
            feature: default_feature_keys(),
            environment: default_environment_keys(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// A CSV file (relative to the config file) with the key column and any of `team`,
    /// `feature`, `environment`, `owner`.
    pub file: PathBuf,
    /// The field the file maps from (`api_key_id`, `project_id`, ...; see [`Field`]).
    pub key: Spanned<String>,
    /// Loaded rows: key value → (team, feature, environment, owner).
    #[serde(skip)]
    pub rows: BTreeMap<String, MappingRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingRow {
    pub team: Option<String>,
    pub feature: Option<String>,
    pub environment: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Conditions, all of which must hold: field = glob (`*`, `?`).
    pub when: Spanned<toml::Table>,
    pub set: Set,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    pub team: Option<Spanned<String>>,
    pub feature: Option<Spanned<String>>,
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Each team's share = pool × its direct basis / all teams' direct basis.
    Proportional,
    /// Pool / number of teams with direct spend.
    Even,
    /// Pool × configured fraction (fractions sum to 1).
    Fixed,
    /// Not split: its own line, held centrally.
    Overhead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    #[default]
    Cost,
    Requests,
    Tokens,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPool {
    pub name: Spanned<String>,
    pub when: Spanned<toml::Table>,
    pub method: Method,
    #[serde(default)]
    pub basis: Basis,
    /// Team → fraction, for `fixed`.
    pub split: Option<Spanned<BTreeMap<String, Amount>>>,
}

/// A row field that rules, pools and mappings can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Provider,
    Model,
    Service,
    Sku,
    Region,
    ProjectId,
    WorkspaceId,
    ApiKeyId,
    BillingAccount,
    SubAccount,
    ResourceId,
    UserId,
    Kind,
    ChargeCategory,
    SourceFormat,
    /// `tags.<key>`
    Tag(String),
}

impl Field {
    pub const NAMES: &'static [&'static str] = &[
        "provider",
        "model",
        "service",
        "sku",
        "region",
        "project_id",
        "workspace_id",
        "api_key_id",
        "billing_account",
        "sub_account",
        "resource_id",
        "user_id",
        "kind",
        "charge_category",
        "source_format",
    ];

    pub fn parse(name: &str) -> Option<Field> {
        if let Some(tag) = name.strip_prefix("tags.") {
            return (!tag.is_empty()).then(|| Field::Tag(tag.to_string()));
        }
        Some(match name {
            "provider" => Field::Provider,
            "model" => Field::Model,
            "service" => Field::Service,
            "sku" => Field::Sku,
            "region" => Field::Region,
            "project_id" => Field::ProjectId,
            "workspace_id" => Field::WorkspaceId,
            "api_key_id" => Field::ApiKeyId,
            "billing_account" => Field::BillingAccount,
            "sub_account" => Field::SubAccount,
            "resource_id" => Field::ResourceId,
            "user_id" => Field::UserId,
            "kind" => Field::Kind,
            "charge_category" => Field::ChargeCategory,
            "source_format" => Field::SourceFormat,
            _ => return None,
        })
    }
}

/// Flattens a `when` table into (field, pattern) pairs: `{ provider = "openai",
/// tags.feature = "x" }` (a dotted key is a nested table in TOML) or `"tags.feature" = "x"`.
pub fn conditions(table: &toml::Table) -> std::result::Result<Vec<(Field, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            toml::Value::String(pattern) => {
                let field = Field::parse(k).ok_or_else(|| {
                    format!(
                        "unknown field {k:?} in `when`; fields are {} and tags.<key>",
                        Field::NAMES.join(", ")
                    )
                })?;
                out.push((field, pattern.clone()));
            }
            toml::Value::Table(inner) if k == "tags" => {
                for (tk, tv) in inner {
                    let pattern = tv
                        .as_str()
                        .ok_or_else(|| format!("`when` value for tags.{tk} must be a string"))?;
                    out.push((Field::Tag(tk.clone()), pattern.to_string()));
                }
            }
            _ => return Err(format!("`when` value for {k:?} must be a string (a glob)")),
        }
    }
    if out.is_empty() {
        return Err("`when` is empty: name at least one field".into());
    }
    Ok(out)
}

/// The starter file `finops init` writes.
pub const STARTER: &str = include_str!("../docs/finops.starter.toml");

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Reads and checks a config file; errors name the file, the line and the key.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            // toml quotes the offending line; a hostile one-line file would be echoed
            // whole, so long lines get the message and place only.
            let long_line = e.span().is_some_and(|sp| {
                let start = text[..sp.start.min(text.len())]
                    .rfind('\n')
                    .map_or(0, |i| i + 1);
                let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                end - start > 200
            });
            if long_line {
                let at = e.span().map_or(0, |sp| sp.start);
                anyhow::anyhow!(
                    "{}: line {}: {}",
                    path.display(),
                    line_of(text, at),
                    crate::error::clip(e.message())
                )
            } else {
                anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end())
            }
        })?;
        let at = |offset: usize, key: &str, msg: String| {
            anyhow::anyhow!(
                "{}: line {}, key `{key}`: {msg}",
                path.display(),
                line_of(text, offset)
            )
        };
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(c) = &cfg.currency {
            if crate::model::Currency::parse(c).is_none() {
                anyhow::bail!(
                    "{}: key `currency`: {c:?} is not an ISO 4217 code (three letters, e.g. \"USD\")",
                    path.display()
                );
            }
        }
        if let Some(tz) = &cfg.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                anyhow::bail!(
                    "{}: key `timezone`: {tz:?} is not an IANA time zone (e.g. \"UTC\", \"Europe/Berlin\")",
                    path.display()
                );
            }
        }
        // Names: what reports print and rules compare; amounts that cannot be negative.
        let check_name = |name: &Spanned<String>, key: &str| -> Result<()> {
            let n = name.get_ref();
            let problem = if n.trim().is_empty() {
                Some("is empty")
            } else if n.trim() != n {
                Some("starts or ends with blank space")
            } else if n.starts_with('(') {
                Some("starts with '(', which finops keeps for its own lines such as (unattributed)")
            } else if n.chars().any(char::is_control) {
                Some("has a control character")
            } else {
                None
            };
            match problem {
                Some(p) => Err(at(
                    name.span().start,
                    key,
                    format!(
                        "the name {} {p}; give a plain name such as \"search\"",
                        crate::error::quote(n)
                    ),
                )),
                None => Ok(()),
            }
        };
        let check_amount = |a: &Option<Spanned<Amount>>, key: &str, positive: bool| -> Result<()> {
            if let Some(a) = a {
                let v = a.get_ref().0;
                if v < Money::ZERO || (positive && v == Money::ZERO) {
                    return Err(at(
                        a.span().start,
                        key,
                        format!(
                            "{v} is {}; give {} amount in the reporting currency",
                            if v < Money::ZERO { "negative" } else { "zero" },
                            if positive {
                                "a positive"
                            } else {
                                "a zero or positive"
                            }
                        ),
                    ));
                }
            }
            Ok(())
        };
        for t in &cfg.teams {
            check_name(&t.name, "team.name")?;
            check_amount(&t.budget, "team.budget", false)?;
        }
        for f in &cfg.features {
            check_name(&f.name, "feature.name")?;
            check_amount(&f.budget, "feature.budget", false)?;
            check_amount(&f.daily_budget, "feature.daily_budget", false)?;
            check_amount(&f.session_cap, "feature.session_cap", true)?;
            check_amount(&f.monthly_value, "feature.monthly_value", false)?;
        }
        for p in &cfg.shared {
            check_name(&p.name, "shared.name")?;
        }
        // Teams and features: unique names, features name known teams.
        let mut teams = BTreeSet::new();
        for t in &cfg.teams {
            if !teams.insert(t.name.get_ref().clone()) {
                return Err(at(
                    t.name.span().start,
                    "team.name",
                    format!("team {:?} is defined twice", t.name.get_ref()),
                ));
            }
        }
        let known_teams = || teams.iter().cloned().collect::<Vec<_>>().join(", ");
        let check_team = |name: &Spanned<String>, key: &str| -> Result<()> {
            if !teams.contains(name.get_ref()) {
                return Err(at(
                    name.span().start,
                    key,
                    format!(
                        "unknown team {:?}; add a [[team]] with that name (teams: {})",
                        name.get_ref(),
                        known_teams()
                    ),
                ));
            }
            Ok(())
        };
        let mut features = BTreeSet::new();
        for f in &cfg.features {
            if !features.insert(f.name.get_ref().clone()) {
                return Err(at(
                    f.name.span().start,
                    "feature.name",
                    format!("feature {:?} is defined twice", f.name.get_ref()),
                ));
            }
            if let Some(team) = &f.team {
                check_team(team, "feature.team")?;
            }
        }
        if let Some(u) = &cfg.attribution.unattributed {
            let v = u.get_ref();
            if v != "separate" && v != "proportional" {
                check_team(u, "attribution.unattributed").map_err(|_| {
                    at(
                        u.span().start,
                        "attribution.unattributed",
                        format!(
                            "{v:?} is neither \"separate\", \"proportional\" nor a [[team]] name"
                        ),
                    )
                })?;
            }
        }
        for r in &cfg.rules {
            conditions(r.when.get_ref()).map_err(|m| at(r.when.span().start, "rule.when", m))?;
            if let Some(t) = &r.set.team {
                if !teams.is_empty() {
                    check_team(t, "rule.set.team")?;
                }
            }
            if let Some(f) = &r.set.feature {
                if !features.is_empty() && !features.contains(f.get_ref()) {
                    return Err(at(
                        f.span().start,
                        "rule.set.feature",
                        format!(
                            "unknown feature {:?}; add a [[feature]] with that name",
                            f.get_ref()
                        ),
                    ));
                }
            }
            if r.set.team.is_none() && r.set.feature.is_none() && r.set.environment.is_none() {
                return Err(at(
                    r.when.span().start,
                    "rule.set",
                    "the rule sets nothing: give team, feature or environment".into(),
                ));
            }
        }
        for p in &cfg.shared {
            conditions(p.when.get_ref()).map_err(|m| at(p.when.span().start, "shared.when", m))?;
            match (&p.method, &p.split) {
                (Method::Fixed, None) => {
                    return Err(at(p.when.span().start, "shared.split", format!("pool {:?} uses method = \"fixed\" but has no split = {{ team = fraction, ... }}", p.name.get_ref())));
                }
                (Method::Fixed, Some(split)) => {
                    let sum = Money::try_sum(split.get_ref().values().map(|a| a.0))
                        .map_err(|e| at(split.span().start, "shared.split", e.to_string()))?;
                    if sum != Money::parse("1").unwrap_or_default() {
                        return Err(at(
                            split.span().start,
                            "shared.split",
                            format!(
                                "the fractions of pool {:?} sum to {sum}, not 1",
                                p.name.get_ref()
                            ),
                        ));
                    }
                    for (team, frac) in split.get_ref() {
                        if frac.0 < Money::ZERO {
                            return Err(at(
                                split.span().start,
                                "shared.split",
                                format!("fraction for {team:?} is negative"),
                            ));
                        }
                        if !teams.is_empty() && !teams.contains(team) {
                            return Err(at(
                                split.span().start,
                                "shared.split",
                                format!(
                                    "unknown team {team:?} in the split of pool {:?}",
                                    p.name.get_ref()
                                ),
                            ));
                        }
                    }
                }
                (_, Some(split)) => {
                    return Err(at(
                        split.span().start,
                        "shared.split",
                        "a split is only for method = \"fixed\"".into(),
                    ));
                }
                _ => {}
            }
        }
        // [models], [[approval]], [alerts], [anomaly], [[experiment]].
        for p in &cfg.models.premium {
            if p.trim().is_empty() {
                anyhow::bail!(
                    "{}: key `models.premium`: an empty pattern; give model globs such as \"gpt-4o*\"",
                    path.display()
                );
            }
        }
        for a in &cfg.approvals {
            match (&a.team, &a.feature) {
                (Some(t), None) => {
                    if !teams.is_empty() {
                        check_team(t, "approval.team")?
                    }
                }
                (None, Some(f)) => {
                    if !features.is_empty() && !features.contains(f.get_ref()) {
                        return Err(at(
                            f.span().start,
                            "approval.feature",
                            format!(
                                "unknown feature {:?}; add a [[feature]] with that name",
                                f.get_ref()
                            ),
                        ));
                    }
                }
                _ => {
                    return Err(at(
                        a.until.span().start,
                        "approval",
                        "an approval names either a team or a feature (one of them)".into(),
                    ))
                }
            }
            if a.models.is_empty() || a.models.iter().any(|m| m.trim().is_empty()) {
                return Err(at(
                    a.until.span().start,
                    "approval.models",
                    "give the model globs approved, e.g. models = [\"claude-opus-*\"]".into(),
                ));
            }
        }
        {
            let t = &cfg.alerts.thresholds;
            let v: Vec<Money> = t.get_ref().iter().map(|a| a.0).collect();
            let ascending = v.windows(2).all(|w| w[0] < w[1]);
            if v.len() != 3 || !ascending || v[0] <= Money::ZERO {
                return Err(at(
                    t.span().start,
                    "alerts.thresholds",
                    "give three increasing utilisations for alert, fallback and halt, e.g. [0.8, 0.9, 1.0]".into(),
                ));
            }
        }
        for (m, key) in [
            (
                &cfg.anomaly.session_multiplier,
                "anomaly.session_multiplier",
            ),
            (
                &cfg.anomaly.feature_daily_multiplier,
                "anomaly.feature_daily_multiplier",
            ),
            (
                &cfg.anomaly.weekly_budget_multiplier,
                "anomaly.weekly_budget_multiplier",
            ),
        ] {
            if m.get_ref().0 <= Money::ZERO {
                return Err(at(
                    m.span().start,
                    key,
                    format!(
                        "{} is not positive; give a multiplier such as 3",
                        m.get_ref().0
                    ),
                ));
            }
        }
        let mut experiments = BTreeSet::new();
        for e in &cfg.experiments {
            check_name(&e.name, "experiment.name")?;
            if !experiments.insert(e.name.get_ref().clone()) {
                return Err(at(
                    e.name.span().start,
                    "experiment.name",
                    format!("experiment {:?} is defined twice", e.name.get_ref()),
                ));
            }
            check_name(&e.feature, "experiment.feature")?;
            check_amount(&Some(e.budget.clone()), "experiment.budget", false)?;
            if let Some(s) = &e.start {
                if s.get_ref().0 > e.until.get_ref().0 {
                    return Err(at(
                        s.span().start,
                        "experiment.start",
                        format!(
                            "the experiment starts on {} after it ends ({})",
                            s.get_ref().0,
                            e.until.get_ref().0
                        ),
                    ));
                }
            }
        }
        for (month, rates) in &cfg.fx {
            if crate::timeparse::Month::parse(month).is_none() {
                anyhow::bail!(
                    "{}: key `fx.{month}`: months are written \"YYYY-MM\"",
                    path.display()
                );
            }
            for (cur, rate) in rates {
                if crate::model::Currency::parse(cur).is_none() || rate.0 <= Money::ZERO {
                    anyhow::bail!(
                        "{}: key `fx.{month}.{cur}`: give a positive rate for an ISO 4217 currency (units of the reporting currency per 1 {cur})",
                        path.display()
                    );
                }
            }
        }
        for m in cfg.mappings.iter_mut() {
            let key = m.key.get_ref().clone();
            if Field::parse(&key).is_none() {
                return Err(at(
                    m.key.span().start,
                    "mapping.key",
                    format!(
                        "unknown field {key:?}; fields are {}",
                        Field::NAMES.join(", ")
                    ),
                ));
            }
            let file = base.join(&m.file);
            m.rows = load_mapping(&file, &key, &teams, &features).with_context(|| {
                format!(
                    "{}: line {}, key `mapping.file`",
                    path.display(),
                    line_of(text, m.key.span().start)
                )
            })?;
            m.file = file;
        }
        if let Some(p) = cfg.pricing.file.take() {
            let file = base.join(p.get_ref());
            let problem = match std::fs::metadata(&file) {
                Ok(md) if md.is_file() => None,
                Ok(_) => Some("is not a regular file".to_string()),
                Err(e) => Some(format!("cannot be read: {e}")),
            };
            if let Some(problem) = problem {
                return Err(at(
                    p.span().start,
                    "pricing.file",
                    format!(
                        "the price table {} {problem}; name a JSON file in LiteLLM's model_prices_and_context_window.json shape (relative to the config file), or remove the key to use the bundled table",
                        file.display()
                    ),
                ));
            }
            cfg.pricing.file = Some(Spanned::new(p.span(), file));
        }
        if let Some(p) = cfg.store.take() {
            cfg.store = Some(base.join(p));
        }
        Ok(cfg)
    }

    /// The configured team of a feature.
    pub fn feature_team(&self, feature: &str) -> Option<&str> {
        self.features
            .iter()
            .find(|f| f.name.get_ref() == feature)
            .and_then(|f| f.team.as_ref().map(|t| t.get_ref().as_str()))
    }
}

/// Reads a mapping CSV: the key column and any of team, feature, environment, owner.
/// Teams and features it names must be configured when any are (as for `[[rule]]`s).
fn load_mapping(
    path: &Path,
    key: &str,
    teams: &BTreeSet<String>,
    features: &BTreeSet<String>,
) -> Result<BTreeMap<String, MappingRow>> {
    let shown = path.display();
    let md =
        std::fs::metadata(path).with_context(|| format!("cannot read the mapping file {shown}"))?;
    if !md.is_file() {
        anyhow::bail!(
            "the mapping file {shown} is not a regular file (a directory?); name a CSV file with a header row"
        );
    }
    // Mapping tables are small; a size cap keeps a misnamed multi-gigabyte file from
    // being read whole.
    const MAX_BYTES: u64 = 64 << 20;
    if md.len() > MAX_BYTES {
        anyhow::bail!(
            "the mapping file {shown} is {} bytes, more than a mapping table should be ({MAX_BYTES}); check that the config names the right file",
            md.len()
        );
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the mapping file {shown}"))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
        anyhow::bail!(
            "the mapping file {shown} is not UTF-8 text (a binary file, or a spreadsheet saved in another encoding); save it as CSV UTF-8 with a header row"
        );
    }
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = r
        .headers()
        .with_context(|| format!("{shown}: line 1: cannot read the header"))?
        .clone();
    let col = |n: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(n));
    let k = col(key).ok_or_else(|| {
        anyhow::anyhow!(
            "{shown}: line 1: no column {} (the mapping's key); columns: {}",
            crate::error::quote(key),
            crate::source::shown_columns(&headers.iter().map(str::to_string).collect::<Vec<_>>())
        )
    })?;
    let (team, feature, env, owner) = (
        col("team"),
        col("feature"),
        col("environment"),
        col("owner"),
    );
    if team.is_none() && feature.is_none() && env.is_none() {
        anyhow::bail!("{shown}: line 1: a mapping needs a team, feature or environment column");
    }
    let mut out = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    loop {
        let more = r.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            anyhow::anyhow!("{shown}: line {line}: cannot read the record: {e}; fix the file (every row needs as many fields as the header)")
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let Some(kv) = get(Some(k)) else { continue };
        let row = MappingRow {
            team: get(team),
            feature: get(feature),
            environment: get(env),
            owner: get(owner),
        };
        if let Some(t) = &row.team {
            if !teams.is_empty() && !teams.contains(t) {
                anyhow::bail!(
                    "{shown}: line {line}, column \"team\": unknown team {}; add a [[team]] with that name, or correct the mapping (teams: {})",
                    crate::error::quote(t),
                    teams.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        if let Some(f) = &row.feature {
            if !features.is_empty() && !features.contains(f) {
                anyhow::bail!(
                    "{shown}: line {line}, column \"feature\": unknown feature {}; add a [[feature]] with that name, or correct the mapping",
                    crate::error::quote(f)
                );
            }
        }
        if out.insert(kv.clone(), row).is_some() {
            anyhow::bail!(
                "{shown}: line {line}: key {} appears twice; keep one row per key",
                crate::error::quote(&kv)
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("f.toml"))
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn starter_parses() {
        let c = Config::parse(STARTER, Path::new("finops.toml")).unwrap();
        assert_eq!(c.currency.as_deref(), Some("USD"));
    }

    #[test]
    fn a_huge_line_is_not_echoed() {
        let text = format!("currency = \"USD\"\nname = \"{}\"\n", "x".repeat(1_000_000));
        let e = err(&text);
        assert!(e.len() < 400, "{}", e.len());
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = err("currency = \"USD\"\ncurency = \"EUR\"\n");
        assert!(
            e.contains("f.toml") && e.contains("line 2") && e.contains("curency"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_and_bad_values() {
        assert!(err("currency = 5\n").contains("line 1"));
        assert!(err("currency = \"dollars\"\n").contains("currency"));
        assert!(err("timezone = \"Mars/Base\"\n").contains("timezone"));
        let e = err("[[team]]\nname = \"a\"\nbudget = \"lots\"\n");
        assert!(
            e.contains("line 3") && e.contains("\"lots\" is not a number"),
            "{e}"
        );
    }

    #[test]
    fn feature_naming_an_unknown_team() {
        let e =
            err("[[team]]\nname = \"search\"\n\n[[feature]]\nname = \"bot\"\nteam = \"suport\"\n");
        assert!(
            e.contains("line 6") && e.contains("feature.team") && e.contains("\"suport\""),
            "{e}"
        );
        assert!(e.contains("teams: search"), "{e}");
    }

    #[test]
    fn fixed_split_must_sum_to_one() {
        let base = "[[team]]\nname = \"a\"\n[[team]]\nname = \"b\"\n[[shared]]\nname = \"p\"\nwhen = { provider = \"aws\" }\nmethod = \"fixed\"\n";
        let e = err(&format!("{base}split = {{ a = 0.5, b = 0.3 }}\n"));
        assert!(
            e.contains("line 9") && e.contains("sum to 0.8, not 1"),
            "{e}"
        );
        // 0.1 + 0.2 + 0.7 is exactly 1 (no float drift).
        let ok = format!("[[team]]\nname = \"c\"\n{base}split = {{ a = 0.1, b = 0.2, c = 0.7 }}\n");
        parse(&ok).unwrap();
        let e = err("[[shared]]\nname = \"p\"\nwhen = { provider = \"aws\" }\nmethod = \"even\"\nsplit = { a = 1 }\n");
        assert!(e.contains("only for method = \"fixed\""), "{e}");
    }

    #[test]
    fn rule_conditions_are_checked() {
        let e = err("[[rule]]\nwhen = { provder = \"openai\" }\nset = { team = \"x\" }\n");
        assert!(
            e.contains("line 2") && e.contains("unknown field \"provder\""),
            "{e}"
        );
        let c = parse("[[rule]]\nwhen = { provider = \"openai\", tags.app = \"x*\" }\nset = { team = \"x\" }\n").unwrap();
        let conds = conditions(c.rules[0].when.get_ref()).unwrap();
        assert!(conds.contains(&(Field::Tag("app".into()), "x*".into())));
        assert!(err("[[rule]]\nwhen = { provider = \"a\" }\nset = {}\n").contains("sets nothing"));
    }

    #[test]
    fn unattributed_policy() {
        parse("[attribution]\nunattributed = \"proportional\"\n").unwrap();
        let e = err("[attribution]\nunattributed = \"platform\"\n");
        assert!(e.contains("line 2") && e.contains("\"platform\""), "{e}");
        parse("[[team]]\nname = \"platform\"\n[attribution]\nunattributed = \"platform\"\n")
            .unwrap();
    }

    #[test]
    fn fx_rates() {
        let c = parse("[fx.\"2026-10\"]\nEUR = 1.08\n").unwrap();
        assert_eq!(c.fx["2026-10"]["EUR"].0, Money::parse("1.08").unwrap());
        assert!(err("[fx.\"Oct\"]\nEUR = 1.08\n").contains("YYYY-MM"));
        assert!(err("[fx.\"2026-10\"]\nEUR = -1\n").contains("positive rate"));
    }

    #[test]
    fn mapping_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("keys.csv"),
            "api_key_id,team,feature\nkey_1,search,ai-search\nkey_2,support,\n",
        )
        .unwrap();
        let cfg_path = dir.path().join("finops.toml");
        let c = Config::parse(
            "[[mapping]]\nfile = \"keys.csv\"\nkey = \"api_key_id\"\n",
            &cfg_path,
        )
        .unwrap();
        let rows = &c.mappings[0].rows;
        assert_eq!(rows["key_1"].team.as_deref(), Some("search"));
        assert_eq!(rows["key_2"].feature, None);
        std::fs::write(dir.path().join("bad.csv"), "key,team\nx,y\n").unwrap();
        let e = format!(
            "{:#}",
            Config::parse(
                "[[mapping]]\nfile = \"bad.csv\"\nkey = \"api_key_id\"\n",
                &cfg_path
            )
            .unwrap_err()
        );
        assert!(
            e.contains("bad.csv") && e.contains("no column \"api_key_id\""),
            "{e}"
        );
    }
}
