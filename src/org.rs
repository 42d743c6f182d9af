//! The organisation, compiled once from the config: teams and features with their owners,
//! budgets and caps, who events escalate to, the anomaly rules and budget thresholds.
//! Reports read this typed value, never the config's raw tables.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::config::Config;
use crate::money::{Money, Overflow};
use crate::period::{Day, Week};
use crate::spend::Rules;
use crate::timeparse::days_in_month;

#[derive(Debug, Clone, Default)]
pub struct TeamInfo {
    pub owner: Option<String>,
    /// Monthly.
    pub budget: Option<Money>,
}

#[derive(Debug, Clone, Default)]
pub struct FeatureInfo {
    pub team: Option<String>,
    /// The cost owner.
    pub owner: Option<String>,
    /// Monthly.
    pub budget: Option<Money>,
    pub daily_budget: Option<Money>,
    /// The per-session cap of the circuit breaker.
    pub session_cap: Option<Money>,
    /// Monthly value the feature drives.
    pub monthly_value: Option<Money>,
}

/// The anomaly rules (SPEC §5.2).
#[derive(Debug, Clone)]
pub struct AnomalyRules {
    pub session_multiplier: Money,
    pub feature_daily_multiplier: Money,
    pub weekly_budget_multiplier: Money,
    pub min_history_days: u32,
    pub min_history_sessions: u32,
}

/// Budget status by utilisation (SPEC §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Under,
    Alert,
    Fallback,
    Halt,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Under => "under",
            Status::Alert => "alert",
            Status::Fallback => "fallback",
            Status::Halt => "halt",
        }
    }

    /// What the status asks of the owner.
    pub fn action(self) -> &'static str {
        match self {
            Status::Under => "none",
            Status::Alert => "notify the owner",
            Status::Fallback => "route to a cheaper model",
            Status::Halt => "stop the feature",
        }
    }
}

/// Who an event escalates to, and why that person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub to: Option<String>,
    /// `feature owner`, `team owner`, `executive`, or `nobody` when none is configured.
    pub role: &'static str,
}

pub struct Org {
    pub rules: Rules,
    pub teams: BTreeMap<String, TeamInfo>,
    pub features: BTreeMap<String, FeatureInfo>,
    pub executive: Option<String>,
    pub anomaly: AnomalyRules,
    /// Alert, fallback, halt.
    pub thresholds: [Money; 3],
    pub on_forecast: bool,
}

impl Org {
    pub fn new(cfg: &Config) -> Result<Org> {
        let amount =
            |a: &Option<toml::Spanned<crate::config::Amount>>| a.as_ref().map(|a| a.get_ref().0);
        let teams = cfg
            .teams
            .iter()
            .map(|t| {
                (
                    t.name.get_ref().clone(),
                    TeamInfo {
                        owner: t.owner.clone(),
                        budget: amount(&t.budget),
                    },
                )
            })
            .collect();
        let features = cfg
            .features
            .iter()
            .map(|f| {
                (
                    f.name.get_ref().clone(),
                    FeatureInfo {
                        team: f.team.as_ref().map(|t| t.get_ref().clone()),
                        owner: f.owner.clone(),
                        budget: amount(&f.budget),
                        daily_budget: amount(&f.daily_budget),
                        session_cap: amount(&f.session_cap),
                        monthly_value: amount(&f.monthly_value),
                    },
                )
            })
            .collect();
        let t = cfg.alerts.thresholds.get_ref();
        let a = &cfg.anomaly;
        Ok(Org {
            rules: Rules::new(cfg)?,
            teams,
            features,
            executive: cfg.executive.clone(),
            anomaly: AnomalyRules {
                session_multiplier: a.session_multiplier.get_ref().0,
                feature_daily_multiplier: a.feature_daily_multiplier.get_ref().0,
                weekly_budget_multiplier: a.weekly_budget_multiplier.get_ref().0,
                min_history_days: a.min_history_days,
                min_history_sessions: a.min_history_sessions,
            },
            thresholds: [t[0].0, t[1].0, t[2].0],
            on_forecast: cfg.alerts.on_forecast,
        })
    }

    /// The status of a spend against a budget.
    pub fn status(&self, spend: Money, budget: Money) -> Status {
        // spend ≥ threshold × budget, exactly.
        let reached = |t: Money| match budget.times(t) {
            Ok(limit) => spend >= limit,
            Err(_) => false,
        };
        if budget <= Money::ZERO {
            return if spend > Money::ZERO {
                Status::Halt
            } else {
                Status::Under
            };
        }
        match self.thresholds {
            [_, _, h] if reached(h) => Status::Halt,
            [_, f, _] if reached(f) => Status::Fallback,
            [a, _, _] if reached(a) => Status::Alert,
            _ => Status::Under,
        }
    }

    /// The team of a feature: its configured team, else None.
    pub fn team_of(&self, feature: &str) -> Option<&str> {
        self.features.get(feature)?.team.as_deref()
    }

    /// Feature events go to the feature's cost owner, else its team's owner, else the
    /// executive.
    pub fn feature_escalation(&self, feature: Option<&str>, team: Option<&str>) -> Escalation {
        if let Some(o) = feature.and_then(|f| self.features.get(f)?.owner.clone()) {
            return Escalation {
                to: Some(o),
                role: "feature owner",
            };
        }
        let team = team.or_else(|| feature.and_then(|f| self.team_of(f)));
        self.team_escalation(team)
    }

    /// Team events go to the team's owner, else the executive.
    pub fn team_escalation(&self, team: Option<&str>) -> Escalation {
        if let Some(o) = team.and_then(|t| self.teams.get(t)?.owner.clone()) {
            return Escalation {
                to: Some(o),
                role: "team owner",
            };
        }
        self.executive_escalation()
    }

    pub fn executive_escalation(&self) -> Escalation {
        match &self.executive {
            Some(e) => Escalation {
                to: Some(e.clone()),
                role: "executive",
            },
            None => Escalation {
                to: None,
                role: "nobody",
            },
        }
    }

    /// The sum of monthly budgets the product-week rule compares with: the teams'
    /// budgets, or, when no team has one, the features'.
    pub fn monthly_budget_total(&self) -> Result<Option<Money>, Overflow> {
        let teams: Vec<Money> = self.teams.values().filter_map(|t| t.budget).collect();
        let pick = if teams.is_empty() {
            self.features.values().filter_map(|f| f.budget).collect()
        } else {
            teams
        };
        if pick.is_empty() {
            return Ok(None);
        }
        Money::try_sum(pick).map(Some)
    }

    /// The weekly budget: for each day of the week, the monthly total / the days of that
    /// day's month (SPEC §5.2: monthly × 7 / days in the month, exact across a month end).
    pub fn weekly_budget(&self, week: Week) -> Result<Option<Money>, Overflow> {
        let Some(monthly) = self.monthly_budget_total()? else {
            return Ok(None);
        };
        let mut total = Money::ZERO;
        for i in 0..7 {
            let (y, m, _) = week.start.plus(i).ymd();
            total.add_assign(monthly.mul_ratio(1, days_in_month(y, m) as i128)?)?;
        }
        Ok(Some(total))
    }
}

/// The days of a week, in order.
pub fn week_days(w: Week) -> impl Iterator<Item = Day> {
    (0..7).map(move |i| w.start.plus(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::WeekStart;
    use std::path::Path;

    fn org(text: &str) -> Org {
        Org::new(&Config::parse(text, Path::new("f.toml")).unwrap()).unwrap()
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn budget_status_at_79_80_90_and_100_percent() {
        let o = org("");
        let b = m("1000");
        assert_eq!(o.status(m("790"), b), Status::Under);
        assert_eq!(o.status(m("799.99"), b), Status::Under);
        assert_eq!(o.status(m("800"), b), Status::Alert);
        assert_eq!(o.status(m("900"), b), Status::Fallback);
        assert_eq!(o.status(m("999.999999"), b), Status::Fallback);
        assert_eq!(o.status(m("1000"), b), Status::Halt);
        assert_eq!(o.status(m("0"), m("0")), Status::Under);
        assert_eq!(o.status(m("0.01"), m("0")), Status::Halt);
        let custom = org("[alerts]\nthresholds = [0.5, 0.75, 0.95]\n");
        assert_eq!(custom.status(m("500"), b), Status::Alert);
        assert_eq!(custom.status(m("950"), b), Status::Halt);
    }

    #[test]
    fn escalation_climbs_from_feature_to_team_to_executive() {
        let o = org(r#"
executive = "cto@example.com"
[[team]]
name = "search"
owner = "lead@example.com"
[[team]]
name = "ops"
[[feature]]
name = "ai-search"
team = "search"
owner = "alice@example.com"
[[feature]]
name = "rerank"
team = "search"
[[feature]]
name = "pager"
team = "ops"
"#);
        let to = |f: &str| o.feature_escalation(Some(f), None).to.unwrap();
        assert_eq!(to("ai-search"), "alice@example.com");
        assert_eq!(to("rerank"), "lead@example.com");
        assert_eq!(to("pager"), "cto@example.com");
        assert_eq!(o.feature_escalation(Some("pager"), None).role, "executive");
        assert_eq!(o.team_escalation(Some("search")).role, "team owner");
        assert_eq!(org("").executive_escalation().to, None);
    }

    #[test]
    fn a_weekly_budget_across_a_month_end() {
        // Teams 3100 + 3000 = 6100 a month. Week Mon 2026-10-26 .. Sun 2026-11-01: six
        // October days (31 days) and one November day (30 days):
        // 6100 × 6/31 + 6100/30 = 1180.6451612903… + 203.3333… = 1383.978494623655913979
        // (each day's share rounded at 10⁻¹⁸).
        let o =
            org("[[team]]\nname = \"a\"\nbudget = 3100\n[[team]]\nname = \"b\"\nbudget = 3000\n");
        let w = Week {
            start: Day::parse("2026-10-26").unwrap(),
            week_start: WeekStart::Monday,
        };
        let got = o.weekly_budget(w).unwrap().unwrap();
        assert_eq!(got.round_to(2), 138398);
        let exact_oct = m("196.774193548387096774"); // 6100/31, half-even at 10⁻¹⁸
        let exact_nov = m("203.333333333333333333");
        let mut expect = Money::ZERO;
        for _ in 0..6 {
            expect.add_assign(exact_oct).unwrap();
        }
        expect.add_assign(exact_nov).unwrap();
        assert_eq!(got, expect);
        // Without team budgets: the features'; without any: none.
        let f = org("[[feature]]\nname = \"x\"\nbudget = 310\n");
        let jan = Week {
            start: Day::parse("2027-01-04").unwrap(),
            week_start: WeekStart::Monday,
        };
        assert_eq!(f.weekly_budget(jan).unwrap(), Some(m("70")));
        assert_eq!(org("").weekly_budget(jan).unwrap(), None);
    }
}
