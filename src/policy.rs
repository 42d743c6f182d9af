//! Model-tier governance (SPEC §5.5, docs/commands/policy-check.md): spend on models
//! matching `[models] premium` by a team or feature that no unexpired `[[approval]]`
//! covers.
//!
//! An approval covers a day's spend on a model when one of its `models` globs matches the
//! model, it names the spend's team or its feature, and the day (local, in the report's
//! time zone) is on or before its `until`. Who used a model is read by attribution alone:
//! money that a `[[shared]]` pool takes is still its attributed team's or feature's use.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Context as _, Result};

use crate::attribution::{Owner, Pattern};
use crate::config::Config;
use crate::model::Kind;
use crate::money::Money;
use crate::org::Org;
use crate::period::{Calendar, Day};
use crate::query::{self, Group, Needs, Select};
use crate::spend::{self, Class, ClassKey};
use crate::store::Store;
use crate::timeparse::Month;

/// Why premium spend is outside the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// No approval names the team or feature for the model.
    NoApproval,
    /// The approvals that would cover it ended on this day (the latest of them).
    Expired(Day),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoApproval => write!(f, "no approval"),
            Reason::Expired(d) => write!(f, "approval expired {d}"),
        }
    }
}

struct Approval {
    team: Option<String>,
    feature: Option<String>,
    models: Vec<Pattern>,
    until: Day,
}

/// `[models] premium` and the `[[approval]]`s, compiled.
pub struct Rules {
    premium: Vec<Pattern>,
    approvals: Vec<Approval>,
}

impl Rules {
    pub fn new(cfg: &Config) -> Rules {
        Rules {
            premium: cfg.models.premium.iter().map(|p| Pattern::new(p)).collect(),
            approvals: cfg
                .approvals
                .iter()
                .map(|a| Approval {
                    team: a.team.as_ref().map(|t| t.get_ref().clone()),
                    feature: a.feature.as_ref().map(|f| f.get_ref().clone()),
                    models: a.models.iter().map(|m| Pattern::new(m)).collect(),
                    until: a.until.get_ref().0,
                })
                .collect(),
        }
    }

    pub fn is_premium(&self, model: &str) -> bool {
        self.premium.iter().any(|p| p.matches(model))
    }

    /// None when the spend is allowed (not premium, or approved on that day).
    pub fn judge(&self, owner: &Owner, model: &str, day: Day) -> Option<Reason> {
        if !self.is_premium(model) {
            return None;
        }
        let names = |a: &Approval| {
            (a.team.is_some() && a.team == owner.team)
                || (a.feature.is_some() && a.feature == owner.feature)
        };
        let latest = self
            .approvals
            .iter()
            .filter(|a| names(a) && a.models.iter().any(|p| p.matches(model)))
            .map(|a| a.until)
            .max();
        match latest {
            Some(until) if day <= until => None,
            Some(until) => Some(Reason::Expired(until)),
            None => Some(Reason::NoApproval),
        }
    }
}

/// Premium spend outside the policy, of one team, feature and model.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub team: Option<String>,
    pub feature: Option<String>,
    /// Who it escalates to: the feature's owner, else the team's, else the executive.
    pub owner: Option<String>,
    pub model: String,
    pub spend: Money,
    /// Requests of the request logs behind it; None when only bill rows are.
    pub requests: Option<i128>,
    pub first: Day,
    pub last: Day,
    pub reason: Reason,
}

/// The premium spend outside approvals over some days.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub currency: String,
    /// Largest spend first.
    pub breaches: Vec<Breach>,
    /// Money without a model (bill rows of exports without one, not split by request
    /// logs): it cannot be checked.
    pub unjudged: Money,
}

type Key = (Option<String>, Option<String>, String, Reason);

/// Logged cost of billed providers' request logs: (provider, day, class) → (model, owner)
/// → cost in 10⁻¹⁸ units of the reporting currency.
type LogCells = BTreeMap<(String, Day, ClassKey), BTreeMap<(String, Owner), i128>>;

#[derive(Default)]
struct Acc {
    spend: Money,
    requests: Option<i128>,
    days: Option<(Day, Day)>,
}

impl Acc {
    fn add(
        &mut self,
        spend: Money,
        requests: Option<i128>,
        day: Day,
    ) -> Result<(), crate::money::Overflow> {
        self.spend.add_assign(spend)?;
        if let Some(r) = requests {
            self.requests = Some(self.requests.unwrap_or(0).saturating_add(r));
        }
        self.days = Some(
            self.days
                .map_or((day, day), |(a, b)| (a.min(day), b.max(day))),
        );
        Ok(())
    }
}

/// The premium spend outside approvals on local days `first..=last`.
pub fn compute(
    cfg: &Config,
    store: &Store,
    cal: &Calendar,
    first: Day,
    last: Day,
) -> Result<Policy> {
    let org = Org::new(cfg)?;
    let rules = Rules::new(cfg);
    let too_large =
        || format!("policy {first}..{last}: amounts add up beyond what can be held exactly");
    let needs = Needs {
        requests: true,
        ..Needs::default()
    };
    let spend = spend::load_days(cfg, &org.rules, store, cal, first, last, &[], needs)?;
    let fields = &spend.fields;
    let mut acc: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut record = |owner: &Owner, model: &str, day: Day, amount: Money, requests| {
        let Some(reason) = rules.judge(owner, model, day) else {
            return Ok(());
        };
        let key = (
            owner.team.clone(),
            owner.feature.clone(),
            model.to_string(),
            reason,
        );
        acc.entry(key).or_default().add(amount, requests, day)
    };

    // A provider's request logs in the (local) months where it has a bill: the bill
    // carries the money, so they are not items; they give the requests, and the models
    // of bill rows without one (SPEC §4.4).
    let billed: BTreeSet<(String, Month)> = spend
        .items
        .iter()
        .filter(|i| i.group.kind == Kind::Bill)
        .map(|i| (i.group.provider.clone(), day_of(&i.group).month()))
        .collect();
    // (provider, day, class) → (model, owner) → logged cost.
    let mut cells: LogCells = BTreeMap::new();
    if !spend.usage_superseded.is_empty() {
        let logs = query::groups(
            store,
            &Select::days(cal, first, last),
            fields,
            Needs {
                requests: true,
                tokens: false,
                cells: true,
            },
        )?;
        for g in logs {
            let day = day_of(&g);
            if g.kind != Kind::Usage || !billed.contains(&(g.provider.clone(), day.month())) {
                continue;
            }
            let owner = org.rules.owner_of(&g, fields);
            let model = g.model.clone().unwrap_or_default();
            if !model.is_empty() {
                record(&owner, &model, day, Money::ZERO, Some(g.requests))
                    .with_context(too_large)?;
            }
            let cost = spend::to_reporting(cfg, &spend.currency, &g.currency, day.month(), g.cost)?;
            let class = ClassKey::of(&org.rules.class_of(&g, fields));
            let w = cells
                .entry((g.provider.clone(), day, class))
                .or_default()
                .entry((model, owner))
                .or_insert(0);
            *w = w.saturating_add(cost.0);
        }
    }

    let mut unjudged = Money::ZERO;
    for item in &spend.items {
        let g = &item.group;
        let day = day_of(g);
        let owner = match &item.class {
            Class::Owned(o) => o.clone(),
            Class::Pool(_) => org.rules.owner_of(g, fields),
        };
        match g.model.as_deref() {
            Some(model) if !model.is_empty() => {
                let requests = (g.kind == Kind::Usage).then_some(g.requests);
                record(&owner, model, day, item.amount, requests).with_context(too_large)?;
            }
            _ => {
                // A bill row without a model: its logs' models, in proportion to their
                // logged cost within its class.
                let weights = (g.kind == Kind::Bill)
                    .then(|| cells.get(&(g.provider.clone(), day, ClassKey::of(&item.class))))
                    .flatten();
                let shares = weights.and_then(|w| crate::allocate::split(item.amount, w));
                match shares {
                    Some(shares) => {
                        for ((model, owner), share) in shares {
                            if model.is_empty() {
                                unjudged.add_assign(share).with_context(too_large)?;
                            } else {
                                record(&owner, &model, day, share, None).with_context(too_large)?;
                            }
                        }
                    }
                    None => unjudged.add_assign(item.amount).with_context(too_large)?,
                }
            }
        }
    }

    let mut breaches: Vec<Breach> = acc
        .into_iter()
        .filter_map(|((team, feature, model, reason), a)| {
            let (first, last) = a.days?;
            let owner = org
                .feature_escalation(feature.as_deref(), team.as_deref())
                .to;
            Some(Breach {
                team,
                feature,
                owner,
                model,
                spend: a.spend,
                requests: a.requests,
                first,
                last,
                reason,
            })
        })
        .collect();
    breaches.sort_by(|a, b| {
        b.spend.cmp(&a.spend).then_with(|| {
            (&a.team, &a.feature, &a.model, a.reason)
                .cmp(&(&b.team, &b.feature, &b.model, b.reason))
        })
    });
    Ok(Policy {
        currency: spend.currency,
        breaches,
        unjudged,
    })
}

fn day_of(g: &Group) -> Day {
    Day(g.day.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rules(text: &str) -> Rules {
        Rules::new(&Config::parse(text, Path::new("f.toml")).unwrap())
    }

    fn owner(team: Option<&str>, feature: Option<&str>) -> Owner {
        Owner {
            team: team.map(str::to_string),
            feature: feature.map(str::to_string),
            environment: None,
        }
    }

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    const CONFIG: &str = r#"
[[team]]
name = "search"
[[team]]
name = "ads"
[[feature]]
name = "ai-search"
team = "search"
[[feature]]
name = "copy"
team = "ads"
[models]
premium = ["gpt-4o*", "claude-opus-*"]
[[approval]]
team = "search"
models = ["gpt-4o*"]
until = "2026-11-10"
[[approval]]
feature = "copy"
models = ["claude-opus-4"]
until = 2026-12-31
"#;

    #[test]
    fn approvals_cover_a_model_a_team_or_feature_and_days_through_until() {
        let r = rules(CONFIG);
        let search = owner(Some("search"), Some("ai-search"));
        let copy = owner(Some("ads"), Some("copy"));
        // Not premium: always allowed.
        assert_eq!(r.judge(&copy, "gpt-3.5-turbo", d("2026-11-01")), None);
        // A glob takes every model it matches: gpt-4o* includes gpt-4o-mini.
        assert!(r.is_premium("gpt-4o-mini"));
        assert!(!r.is_premium("claude-sonnet-4-5"));
        assert_eq!(r.judge(&copy, "claude-sonnet-4-5", d("2026-11-01")), None);
        // The team approval covers its features, through the 10th (its last day).
        assert_eq!(r.judge(&search, "gpt-4o-2024-08-06", d("2026-11-10")), None);
        assert_eq!(
            r.judge(&search, "gpt-4o-2024-08-06", d("2026-11-11")),
            Some(Reason::Expired(d("2026-11-10")))
        );
        // Approved for gpt-4o*, not for claude-opus-*.
        assert_eq!(
            r.judge(&search, "claude-opus-4", d("2026-11-01")),
            Some(Reason::NoApproval)
        );
        // The feature approval names an exact model.
        assert_eq!(r.judge(&copy, "claude-opus-4", d("2026-12-31")), None);
        assert_eq!(
            r.judge(&copy, "claude-opus-4-1", d("2026-11-01")),
            Some(Reason::NoApproval)
        );
        // Unattributed spend has no approval.
        assert_eq!(
            r.judge(&owner(None, None), "gpt-4o", d("2026-11-01")),
            Some(Reason::NoApproval)
        );
        assert_eq!(
            Reason::Expired(d("2026-11-10")).to_string(),
            "approval expired 2026-11-10"
        );
    }

    #[test]
    fn the_latest_of_several_approvals_holds() {
        let r = rules(
            "[models]\npremium = [\"o1*\"]\n[[approval]]\nteam = \"a\"\nmodels = [\"o1*\"]\nuntil = \"2026-10-31\"\n[[approval]]\nfeature = \"f\"\nmodels = [\"*\"]\nuntil = \"2026-11-15\"\n",
        );
        let o = owner(Some("a"), Some("f"));
        assert_eq!(r.judge(&o, "o1-preview", d("2026-11-15")), None);
        assert_eq!(
            r.judge(&o, "o1-preview", d("2026-11-16")),
            Some(Reason::Expired(d("2026-11-15")))
        );
    }
}
