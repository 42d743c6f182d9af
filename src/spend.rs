//! A month's money, attributed: the first step every money report shares (chargeback,
//! showback, untagged). It picks the rows (bill rows of billing period M, request logs of
//! calendar month M for providers without a bill), converts them to the reporting
//! currency, and says for each group whether it is a shared pool's, a team's or
//! unattributed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};

use crate::attribution::{Attributor, Dims, Matcher, Owner};
use crate::config::{Basis, Config, Field, Method};
use crate::model::Kind;
use crate::money::{Money, Overflow};
use crate::query::{self, Group, Needs, Select};
use crate::store::Store;
use crate::timeparse::Month;

/// Where a group's money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The `[[shared]]` pool with this index.
    Pool(usize),
    /// Attributed (the owner may still lack a team: unattributed).
    Owned(Owner),
}

/// A group with its money in the reporting currency and its class.
#[derive(Debug, Clone)]
pub struct Item {
    pub group: Group,
    pub amount: Money,
    pub class: Class,
}

/// A month's items.
#[derive(Debug, Clone, Default)]
pub struct Spend {
    pub month: Option<Month>,
    pub currency: String,
    pub items: Vec<Item>,
    /// Σ of the bill rows.
    pub billed_total: Money,
    /// Σ of request-log rows of providers without a bill.
    pub usage_total: Money,
    /// Providers whose request logs carry no money because the month has their bill (they
    /// attribute it instead).
    pub usage_superseded: BTreeSet<String>,
    /// How much of the bill was attributed by request logs (SPEC §4.4).
    pub attributed_by_usage: Money,
    /// The fields each group carries, in order.
    pub fields: Vec<Field>,
}

struct GroupDims<'a> {
    g: &'a Group,
    fields: &'a [Field],
}

impl Dims for GroupDims<'_> {
    fn field(&self, f: &Field) -> Option<&str> {
        self.g.value(self.fields, f)
    }
}

impl Group {
    /// A field's value in this group (None when the group has none); `fields` are the
    /// fields the group was read with.
    pub fn value<'a>(&'a self, fields: &[Field], f: &Field) -> Option<&'a str> {
        match f {
            Field::Provider => Some(&self.provider),
            Field::Kind => Some(self.kind.as_str()),
            Field::ChargeCategory => Some(&self.charge_category),
            Field::Tag(k) => self.tags.get(k).map(String::as_str),
            other => fields
                .iter()
                .position(|x| x == other)
                .and_then(|i| self.fields[i].as_deref()),
        }
    }
}

/// amount × rate, rounded half to even at 10⁻¹⁸; [`Overflow`] when the product leaves
/// the range of an amount.
pub fn convert(amount: Money, rate: Money) -> Result<Money, Overflow> {
    amount.times(rate)
}

/// `amount` in currency `from`, in the reporting currency `currency` at the rate of
/// `[fx."month"]`; an error says which rate to add, or that the product is out of range.
pub fn to_reporting(
    cfg: &Config,
    currency: &str,
    from: &str,
    month: Month,
    amount: Money,
) -> Result<Money> {
    if from == currency {
        return Ok(amount);
    }
    let rate = cfg
        .fx
        .get(&month.to_string())
        .and_then(|r| r.get(from))
        .map(|a| a.0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{month} has amounts in {from} besides {currency}; currencies are never added together: give a rate in finops.toml, e.g. [fx.\"{month}\"] {from} = 1.08 (units of {currency} per 1 {from}), or set `currency` to report in another"
            )
        })?;
    convert(amount, rate).map_err(|_| {
        anyhow::anyhow!(
            "{month}: {amount} {from} at the [fx.\"{month}\"] rate {rate} is beyond what can be held exactly in {currency}; check the rate (units of {currency} per 1 {from})"
        )
    })
}

/// The compiled attribution and pools of a config.
pub struct Rules {
    pub attributor: Attributor,
    pub pools: Vec<Matcher>,
}

impl Rules {
    pub fn new(cfg: &Config) -> Result<Rules> {
        Ok(Rules {
            attributor: Attributor::new(cfg)?,
            pools: cfg
                .shared
                .iter()
                .map(|p| Matcher::new(p.when.get_ref()))
                .collect::<Result<_>>()?,
        })
    }

    /// Where a group's money goes: the first pool that matches it, else its owner.
    /// `fields` are the fields the group was read with.
    pub fn class_of(&self, g: &Group, fields: &[Field]) -> Class {
        let dims = GroupDims { g, fields };
        match self.pools.iter().position(|m| m.matches(&dims)) {
            Some(i) => Class::Pool(i),
            None => Class::Owned(self.attributor.attribute(&dims)),
        }
    }

    /// Who a group belongs to by attribution alone, whether or not a pool takes its money
    /// (model governance asks who used a model, not who pays for it).
    pub fn owner_of(&self, g: &Group, fields: &[Field]) -> Owner {
        self.attributor.attribute(&GroupDims { g, fields })
    }

    /// The fields attribution and pools read, plus `extra`.
    pub fn fields(&self, extra: &[Field]) -> Vec<Field> {
        let mut f = self.attributor.fields();
        for m in &self.pools {
            f.extend(m.fields().cloned());
        }
        f.extend(extra.iter().cloned());
        f.sort();
        f.dedup();
        f
    }
}

/// What the pools' drivers need summed.
pub fn needs(cfg: &Config) -> Needs {
    let basis = |b: Basis| {
        cfg.shared
            .iter()
            .any(|p| p.method == Method::Proportional && p.basis == b)
    };
    Needs {
        requests: basis(Basis::Requests),
        tokens: basis(Basis::Tokens),
        cells: false,
    }
}

/// Reads month `month` and classifies its groups.
pub fn load(
    cfg: &Config,
    store: &Store,
    month: Month,
    extra: &[Field],
    needs: Needs,
) -> Result<Spend> {
    let rules = Rules::new(cfg)?;
    let fields = rules.fields(extra);
    let mut groups = query::groups(store, &Select::Invoice(month), &fields, needs)?;
    // A provider with both a bill and request logs: read again by model and day, so that
    // the logs can attribute the bill (SPEC §4.4).
    let billed: BTreeSet<&str> = groups
        .iter()
        .filter(|g| g.kind == Kind::Bill)
        .map(|g| g.provider.as_str())
        .collect();
    let both = groups
        .iter()
        .any(|g| g.kind == Kind::Usage && billed.contains(g.provider.as_str()));
    if both {
        groups = query::groups(
            store,
            &Select::Invoice(month),
            &fields,
            Needs {
                cells: true,
                ..needs
            },
        )?;
    }
    classify(cfg, &rules, Scope::Invoice(month), groups, fields)
}

/// Which month a group's money is of: for the fx rate and for the rule that a provider's
/// bill carries its money (SPEC §2.1, per provider and month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every group is of this invoice month.
    Invoice(Month),
    /// Each group is of the calendar month of its (local) day.
    Days,
}

impl Scope {
    fn month_of(self, g: &Group) -> Month {
        match self {
            Scope::Invoice(m) => m,
            Scope::Days => crate::period::Day(g.day.unwrap_or_default()).month(),
        }
    }
}

/// Reads the local days `first..=last` and classifies their groups: the items carry their
/// day. A provider's bill carries its money in the (local) months where the provider has
/// bill rows; its request logs there split the bill per provider, model and day (SPEC §4.4).
#[allow(clippy::too_many_arguments)]
pub fn load_days(
    cfg: &Config,
    rules: &Rules,
    store: &Store,
    cal: &crate::period::Calendar,
    first: crate::period::Day,
    last: crate::period::Day,
    extra: &[Field],
    needs: Needs,
) -> Result<Spend> {
    let fields = rules.fields(extra);
    let select = Select::days(cal, first, last);
    let needs = Needs {
        cells: true,
        ..needs
    };
    let groups = query::groups(store, &select, &fields, needs)?;
    classify(cfg, rules, Scope::Days, groups, fields)
}

/// Classifies grouped rows (see the module docs).
pub fn classify(
    cfg: &Config,
    rules: &Rules,
    scope: Scope,
    groups: Vec<Group>,
    fields: Vec<Field>,
) -> Result<Spend> {
    let currency = reporting_currency(cfg, groups.iter().map(|g| g.currency.as_str()));
    // Per month: the currencies that need a rate.
    let mut by_month: BTreeMap<Month, BTreeSet<&str>> = BTreeMap::new();
    for g in &groups {
        by_month
            .entry(scope.month_of(g))
            .or_default()
            .insert(g.currency.as_str());
    }
    for (month, currencies) in &by_month {
        let rates = cfg.fx.get(&month.to_string());
        let missing: Vec<&str> = currencies
            .iter()
            .copied()
            .filter(|c| *c != currency && rates.is_none_or(|r| !r.contains_key(*c)))
            .collect();
        if let Some(first) = missing.first() {
            anyhow::bail!(
                "{month} has amounts in {} besides {currency}; currencies are never added together: give rates in finops.toml, e.g. [fx.\"{month}\"] {first} = 1.08 (units of {currency} per 1 {first}), or set `currency` to report in another",
                missing.join(", "),
            );
        }
    }
    let billed: BTreeSet<(String, Month)> = groups
        .iter()
        .filter(|g| g.kind == Kind::Bill)
        .map(|g| (g.provider.clone(), scope.month_of(g)))
        .collect();
    let mut mm = Spend {
        month: match scope {
            Scope::Invoice(m) => Some(m),
            Scope::Days => None,
        },
        currency: currency.clone(),
        ..Spend::default()
    };
    let to_reporting =
        |g: &Group| to_reporting(cfg, &currency, &g.currency, scope.month_of(g), g.cost);
    // Every sum below is checked; the message says what to look at.
    let label = match scope {
        Scope::Invoice(m) => m.to_string(),
        Scope::Days => "the period".to_string(),
    };
    let too_large = || {
        format!(
            "{label}: amounts in {currency} add up beyond what can be held exactly; check `finops sources` for a batch with absurd totals"
        )
    };
    let class_of = |g: &Group| rules.class_of(g, &fields);
    // Logged cost per (provider, model, day) cell and class, for providers with a bill.
    let mut cells: Cells = BTreeMap::new();
    let mut bills = Vec::new();
    for g in groups {
        match g.kind {
            Kind::Usage if billed.contains(&(g.provider.clone(), scope.month_of(&g))) => {
                // The bill carries this provider's money (SPEC §2.1); the logs attribute it.
                mm.usage_superseded.insert(g.provider.clone());
                if let Some(day) = g.day {
                    let class = class_of(&g);
                    let cell = (g.provider.clone(), g.model.clone().unwrap_or_default(), day);
                    let e = cells
                        .entry(cell)
                        .or_default()
                        .entry(ClassKey::of(&class))
                        .or_insert((Money::ZERO, class));
                    e.0.add_assign(to_reporting(&g)?).with_context(too_large)?;
                }
            }
            Kind::Usage => {
                let amount = to_reporting(&g)?;
                mm.usage_total.add_assign(amount).with_context(too_large)?;
                let class = class_of(&g);
                mm.items.push(Item {
                    group: g,
                    amount,
                    class,
                });
            }
            Kind::Bill => {
                let amount = to_reporting(&g)?;
                mm.billed_total.add_assign(amount).with_context(too_large)?;
                bills.push((g, amount));
            }
        }
    }
    for (g, amount) in bills {
        let class = class_of(&g);
        // A bill row in a shared pool stays in the pool; otherwise its cell's logs split it.
        let weights = match (&class, g.day) {
            (Class::Owned(_), Some(day)) => {
                cell_weights(&cells, &g.provider, g.model.as_deref(), day)
                    .with_context(too_large)?
            }
            _ => BTreeMap::new(),
        };
        let keys: BTreeMap<ClassKey, i128> =
            weights.iter().map(|(k, (m, _))| (k.clone(), m.0)).collect();
        let usable = weights.values().all(|(m, _)| m.0 >= 0);
        match crate::allocate::split(amount, &keys) {
            Some(shares) if usable => {
                mm.attributed_by_usage
                    .add_assign(amount)
                    .with_context(too_large)?;
                for (k, share) in shares {
                    let class = weights[&k].1.clone();
                    mm.items.push(Item {
                        group: g.clone(),
                        amount: share,
                        class,
                    });
                }
            }
            _ => mm.items.push(Item {
                group: g,
                amount,
                class,
            }),
        }
    }
    mm.fields = fields;
    Ok(mm)
}

/// The reporting currency: the config's, else the only one of the amounts, else USD.
pub fn reporting_currency<'a>(cfg: &Config, currencies: impl Iterator<Item = &'a str>) -> String {
    if let Some(c) = &cfg.currency {
        return c.to_ascii_uppercase();
    }
    let set: BTreeSet<&str> = currencies.collect();
    match set.len() {
        1 => set.into_iter().next().unwrap_or("USD").to_string(),
        _ => "USD".to_string(),
    }
}

/// Logged cost per class, by (provider, model, day) cell.
type Cells = BTreeMap<(String, String, i64), BTreeMap<ClassKey, (Money, Class)>>;

/// A class as a sortable key (for exact, order-independent splits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClassKey {
    Pool(usize),
    Owned(Owner),
}

impl ClassKey {
    pub fn of(c: &Class) -> ClassKey {
        match c {
            Class::Pool(i) => ClassKey::Pool(*i),
            Class::Owned(o) => ClassKey::Owned(o.clone()),
        }
    }
}

/// The logged cost per class in a bill row's cell: its provider, model (a bill row without
/// a model takes the provider's logs of any model) and day.
fn cell_weights(
    cells: &Cells,
    provider: &str,
    model: Option<&str>,
    day: i64,
) -> Result<BTreeMap<ClassKey, (Money, Class)>, Overflow> {
    let mut out: BTreeMap<ClassKey, (Money, Class)> = BTreeMap::new();
    for ((p, m, d), classes) in cells {
        if p != provider || *d != day || model.is_some_and(|bm| !bm.is_empty() && bm != m) {
            continue;
        }
        for (k, (amount, class)) in classes {
            let e = out.entry(k.clone()).or_insert((Money::ZERO, class.clone()));
            e.0.add_assign(*amount)?;
        }
    }
    Ok(out)
}

impl Spend {
    /// What the report must add up to.
    pub fn expected_total(&self) -> Result<Money> {
        self.billed_total
            .try_add(self.usage_total)
            .context("the month's billed and logged totals add up beyond what can be held exactly")
    }

    /// A report's reconciliation against this month.
    pub fn reconciliation(&self, report_total: Money) -> Result<crate::output::Reconciliation> {
        crate::output::Reconciliation::new(
            &self.currency,
            self.billed_total,
            self.usage_total,
            report_total,
        )
        .context("the month's billed and logged totals add up beyond what can be held exactly")
    }
}
