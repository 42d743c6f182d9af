//! Who a row belongs to (SPEC §4.2), computed when a report runs from the row and the
//! current config, so a corrected rule applies to months already ingested.
//!
//! 1. Tags, read through `[attribution] tag_keys` (first key present wins).
//! 2. For what is still empty: mapping tables in config order, then `[[rule]]`s in order;
//!    for each dimension, the first matching rule that sets it wins.
//! 3. A feature with a configured team implies that team.
//! 4. What is still empty is unattributed.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use wildmatch::WildMatch;

use crate::config::{conditions, Config, Field, MappingRow, TagKeys};

/// The values of a row that attribution reads.
pub trait Dims {
    /// A field's value; None or empty when the row has none.
    fn field(&self, f: &Field) -> Option<&str>;
}

/// A glob (`*`, `?`), or a plain string compared as it is (rule conditions, premium
/// models, approvals).
#[derive(Debug, Clone)]
pub enum Pattern {
    Exact(String),
    Glob(WildMatch),
}

impl Pattern {
    pub fn new(p: &str) -> Pattern {
        if p.contains(['*', '?']) {
            Pattern::Glob(WildMatch::new(p))
        } else {
            Pattern::Exact(p.to_string())
        }
    }

    pub fn matches(&self, v: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == v,
            Pattern::Glob(g) => g.matches(v),
        }
    }
}

/// A `when` table: all conditions must hold; a missing field matches only `*`.
#[derive(Debug, Clone)]
pub struct Matcher {
    conds: Vec<(Field, Pattern)>,
}

impl Matcher {
    pub fn new(table: &toml::Table) -> Result<Matcher> {
        let conds = conditions(table).map_err(|e| anyhow::anyhow!(e))?;
        Ok(Matcher {
            conds: conds
                .into_iter()
                .map(|(f, p)| (f, Pattern::new(&p)))
                .collect(),
        })
    }

    pub fn matches(&self, d: &dyn Dims) -> bool {
        self.conds
            .iter()
            .all(|(f, p)| p.matches(d.field(f).unwrap_or("")))
    }

    /// The fields this matcher reads (so queries can group by just these).
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.conds.iter().map(|(f, _)| f)
    }
}

/// A row's team, feature and environment; None is unattributed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub team: Option<String>,
    pub feature: Option<String>,
    pub environment: Option<String>,
}

struct CompiledRule {
    when: Matcher,
    team: Option<String>,
    feature: Option<String>,
    environment: Option<String>,
}

/// Attribution compiled from a config.
pub struct Attributor {
    tag_keys: TagKeys,
    mappings: Vec<(Field, BTreeMap<String, MappingRow>)>,
    rules: Vec<CompiledRule>,
    feature_team: HashMap<String, String>,
}

fn fill(slot: &mut Option<String>, v: &Option<String>) {
    if slot.is_none() {
        if let Some(v) = v {
            *slot = Some(v.clone());
        }
    }
}

impl Attributor {
    pub fn new(cfg: &Config) -> Result<Attributor> {
        let rules = cfg
            .rules
            .iter()
            .map(|r| {
                Ok(CompiledRule {
                    when: Matcher::new(r.when.get_ref())?,
                    team: r.set.team.as_ref().map(|t| t.get_ref().clone()),
                    feature: r.set.feature.as_ref().map(|t| t.get_ref().clone()),
                    environment: r.set.environment.clone(),
                })
            })
            .collect::<Result<_>>()?;
        let mappings = cfg
            .mappings
            .iter()
            .filter_map(|m| Field::parse(m.key.get_ref()).map(|f| (f, m.rows.clone())))
            .collect();
        let feature_team = cfg
            .features
            .iter()
            .filter_map(|f| {
                f.team
                    .as_ref()
                    .map(|t| (f.name.get_ref().clone(), t.get_ref().clone()))
            })
            .collect();
        Ok(Attributor {
            tag_keys: cfg.attribution.tag_keys.clone(),
            mappings,
            rules,
            feature_team,
        })
    }

    /// The fields attribution reads besides tags: what a query must group by.
    pub fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = self.mappings.iter().map(|(f, _)| f.clone()).collect();
        for r in &self.rules {
            out.extend(r.when.fields().cloned());
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn attribute(&self, d: &dyn Dims) -> Owner {
        let tag = |keys: &[String]| {
            keys.iter()
                .find_map(|k| d.field(&Field::Tag(k.clone())).filter(|v| !v.is_empty()))
                .map(str::to_string)
        };
        let mut o = Owner {
            team: tag(&self.tag_keys.team),
            feature: tag(&self.tag_keys.feature),
            environment: tag(&self.tag_keys.environment),
        };
        for (field, rows) in &self.mappings {
            if o.team.is_some() && o.feature.is_some() && o.environment.is_some() {
                break;
            }
            if let Some(row) = d.field(field).and_then(|v| rows.get(v)) {
                fill(&mut o.team, &row.team);
                fill(&mut o.feature, &row.feature);
                fill(&mut o.environment, &row.environment);
            }
        }
        for r in &self.rules {
            if o.team.is_some() && o.feature.is_some() && o.environment.is_some() {
                break;
            }
            let sets_empty = (o.team.is_none() && r.team.is_some())
                || (o.feature.is_none() && r.feature.is_some())
                || (o.environment.is_none() && r.environment.is_some());
            if sets_empty && r.when.matches(d) {
                fill(&mut o.team, &r.team);
                fill(&mut o.feature, &r.feature);
                fill(&mut o.environment, &r.environment);
            }
        }
        if o.team.is_none() {
            if let Some(t) = o.feature.as_ref().and_then(|f| self.feature_team.get(f)) {
                o.team = Some(t.clone());
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A row as a map of field name → value.
    struct Row(HashMap<String, String>);

    impl Dims for Row {
        fn field(&self, f: &Field) -> Option<&str> {
            let key = match f {
                Field::Tag(k) => format!("tags.{k}"),
                other => Field::NAMES
                    .iter()
                    .find(|n| Field::parse(n).as_ref() == Some(other))
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            };
            self.0.get(&key).map(String::as_str)
        }
    }

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    const CFG: &str = r#"
[[team]]
name = "search"
[[team]]
name = "support"

[[feature]]
name = "ai-search"
team = "search"
[[feature]]
name = "support-bot"
team = "support"

[attribution]
tag_keys = { team = ["team", "business_unit"], feature = ["feature", "application"], environment = ["env"] }

[[rule]]
when = { provider = "openai", project_id = "proj_abc" }
set = { feature = "ai-search" }

[[rule]]
when = { api_key_id = "key_support_*" }
set = { team = "support", feature = "support-bot", environment = "prod" }
"#;

    fn attributor() -> Attributor {
        Attributor::new(&Config::parse(CFG, Path::new("f.toml")).unwrap()).unwrap()
    }

    fn owner(t: Option<&str>, f: Option<&str>, e: Option<&str>) -> Owner {
        Owner {
            team: t.map(Into::into),
            feature: f.map(Into::into),
            environment: e.map(Into::into),
        }
    }

    #[test]
    fn tags_first_through_tag_keys() {
        let a = attributor();
        let o = a.attribute(&row(&[
            ("tags.business_unit", "search"),
            ("tags.application", "x"),
            ("tags.env", "dev"),
        ]));
        assert_eq!(o, owner(Some("search"), Some("x"), Some("dev")));
    }

    #[test]
    fn rules_fill_what_tags_leave_empty_and_features_imply_teams() {
        let a = attributor();
        // Rule 1 sets the feature; the feature's team follows.
        let o = a.attribute(&row(&[("provider", "openai"), ("project_id", "proj_abc")]));
        assert_eq!(o, owner(Some("search"), Some("ai-search"), None));
        // A glob; a tag already present is not overwritten.
        let o = a.attribute(&row(&[
            ("api_key_id", "key_support_7"),
            ("tags.env", "staging"),
        ]));
        assert_eq!(
            o,
            owner(Some("support"), Some("support-bot"), Some("staging"))
        );
        // Nothing matches: unattributed.
        let o = a.attribute(&row(&[("provider", "aws")]));
        assert_eq!(o, Owner::default());
        // What a query must group by besides tags, in field order.
        assert_eq!(
            a.fields(),
            vec![Field::Provider, Field::ProjectId, Field::ApiKeyId]
        );
    }

    #[test]
    fn a_corrected_rule_moves_spend() {
        let r = row(&[("api_key_id", "key_support_7")]);
        assert_eq!(attributor().attribute(&r).team.as_deref(), Some("support"));
        let fixed = CFG.replace("key_support_*", "key_help_*");
        let a = Attributor::new(&Config::parse(&fixed, Path::new("f.toml")).unwrap()).unwrap();
        assert_eq!(a.attribute(&r).team, None);
    }

    #[test]
    fn mappings_come_before_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("keys.csv"),
            "api_key_id,team,feature\nkey_support_1,search,ai-search\n",
        )
        .unwrap();
        let text = format!("{CFG}\n[[mapping]]\nfile = \"keys.csv\"\nkey = \"api_key_id\"\n");
        let cfg = Config::parse(&text, &dir.path().join("finops.toml")).unwrap();
        let a = Attributor::new(&cfg).unwrap();
        let o = a.attribute(&row(&[("api_key_id", "key_support_1")]));
        // The mapping wins for team and feature; the rule still fills the environment.
        assert_eq!(o, owner(Some("search"), Some("ai-search"), Some("prod")));
    }
}
