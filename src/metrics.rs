//! The session metrics of SPEC §5.1, exact: quantiles by linear interpolation and the
//! per-session circuit breaker (docs/metrics.md).

use crate::money::{Money, Overflow};

/// A quantile as an exact fraction `num / den` (the median is 1/2, P95 19/20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantile {
    pub num: i128,
    pub den: i128,
}

pub const MEDIAN: Quantile = Quantile { num: 1, den: 2 };
pub const P95: Quantile = Quantile { num: 19, den: 20 };

/// The `q` quantile of `values` by linear interpolation between closest ranks (NumPy's
/// default, DuckDB's `quantile_cont`): sorted x₀ ≤ … ≤ xₙ₋₁, position h = q·(n−1),
/// x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋), exact to 10⁻¹⁸ (half to even). None when empty.
pub fn quantile(values: &mut [Money], q: Quantile) -> Result<Option<Money>, Overflow> {
    if values.is_empty() {
        return Ok(None);
    }
    values.sort_unstable();
    let n = values.len() as i128;
    // h = q.num·(n−1)/q.den = lo + frac/q.den.
    let h_num = q.num.checked_mul(n - 1).ok_or(Overflow)?;
    let lo = (h_num / q.den) as usize;
    let frac = h_num % q.den;
    let base = values[lo];
    if frac == 0 || lo + 1 >= values.len() {
        return Ok(Some(base));
    }
    let step = values[lo + 1].try_sub(base)?.mul_ratio(frac, q.den)?;
    base.try_add(step).map(Some)
}

/// What a per-session cap does (docs/metrics.md): the breaker sees a session's spend as
/// its requests complete, in time order. A request starts only while the session's spend
/// so far is under the cap; the request that takes it to the cap or over completes (its
/// cost is not known before it runs), and every later request of the session is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capped {
    /// Requests refused.
    pub refused: u64,
    /// Σ cost of the refused requests.
    pub saved: Money,
}

impl Capped {
    /// Whether the cap stops the session (refuses at least one request).
    pub fn stopped(&self) -> bool {
        self.refused > 0
    }
}

/// The breaker over one session's request costs, in time order.
pub fn cap_session(costs: &[Money], cap: Money) -> Result<Capped, Overflow> {
    let mut spent = Money::ZERO;
    let mut out = Capped::default();
    for &c in costs {
        if spent >= cap {
            out.refused += 1;
            out.saved.add_assign(c)?;
        } else {
            spent.add_assign(c)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn ms(v: &[&str]) -> Vec<Money> {
        v.iter().map(|s| m(s)).collect()
    }

    #[test]
    fn quantiles_as_duckdb_quantile_cont() {
        // SELECT quantile_cont(x, 0.5), quantile_cont(x, 0.95)
        // FROM (VALUES (0.10), (0.40), (0.20), (1.00), (0.30)) t(x)  → 0.30, 0.88
        // (sorted .1 .2 .3 .4 1.0; h = 0.95·4 = 3.8: 0.4 + 0.8·0.6 = 0.88)
        let mut v = ms(&["0.10", "0.40", "0.20", "1.00", "0.30"]);
        assert_eq!(quantile(&mut v, MEDIAN).unwrap(), Some(m("0.3")));
        assert_eq!(quantile(&mut v, P95).unwrap(), Some(m("0.88")));
        // Even count: the median interpolates halfway. 1, 2, 4, 8 → 3; P95 h = 2.85:
        // 4 + 0.85·4 = 7.4.
        let mut v = ms(&["8", "1", "4", "2"]);
        assert_eq!(quantile(&mut v, MEDIAN).unwrap(), Some(m("3")));
        assert_eq!(quantile(&mut v, P95).unwrap(), Some(m("7.4")));
        let mut one = ms(&["0.5"]);
        assert_eq!(quantile(&mut one, P95).unwrap(), Some(m("0.5")));
        assert_eq!(quantile(&mut [], MEDIAN).unwrap(), None);
        // Thirds: 0, 1, 1 → h = 1.9 for P95: 1 + 0.9·0 = 1; 0, 0, 1: 0 + 0.9·1 = 0.9.
        let mut v = ms(&["0", "0", "1"]);
        assert_eq!(quantile(&mut v, P95).unwrap(), Some(m("0.9")));
    }

    #[test]
    fn the_breaker_lets_the_crossing_request_finish() {
        let s = ms(&["0.20", "0.20", "0.20", "0.20", "0.20"]);
        // Cap 0.50: .2, .4 under; the third takes it to .6 and completes; two refused.
        assert_eq!(
            cap_session(&s, m("0.50")).unwrap(),
            Capped {
                refused: 2,
                saved: m("0.40")
            }
        );
        // Reaching the cap exactly stops the session too.
        assert_eq!(cap_session(&s, m("0.40")).unwrap().refused, 3);
        // A session that crosses only on its last request is not stopped.
        assert!(!cap_session(&s, m("0.90")).unwrap().stopped());
        assert!(!cap_session(&s, m("5")).unwrap().stopped());
    }

    fn amounts() -> impl Strategy<Value = Vec<Money>> {
        prop::collection::vec(
            (0i128..5_000_000).prop_map(|c| Money(c * 10i128.pow(12))),
            1..40,
        )
    }

    proptest! {
        /// Quantiles lie between the minimum and the maximum and never fall as the
        /// percentile rises; they do not depend on the order of the values.
        #[test]
        fn quantiles_are_bounded_monotone_and_order_free(mut v in amounts(), seed in any::<u64>()) {
            let (min, max) = (*v.iter().min().unwrap(), *v.iter().max().unwrap());
            let mut last = min;
            for num in 0..=20 {
                let q = quantile(&mut v.clone(), Quantile { num, den: 20 }).unwrap().unwrap();
                prop_assert!(min <= q && q <= max);
                prop_assert!(q >= last);
                last = q;
            }
            prop_assert_eq!(quantile(&mut v.clone(), Quantile { num: 0, den: 1 }).unwrap(), Some(min));
            prop_assert_eq!(quantile(&mut v.clone(), Quantile { num: 1, den: 1 }).unwrap(), Some(max));
            let before = quantile(&mut v.clone(), P95).unwrap();
            // Shuffle (a rotation and a reversal chosen by the seed).
            let k = (seed as usize) % v.len();
            v.rotate_left(k);
            if seed % 2 == 0 { v.reverse(); }
            prop_assert_eq!(quantile(&mut v, P95).unwrap(), before);
        }

        /// The breaker never saves more than the spend above the cap, saves nothing in a
        /// session that stays under it, and what it saves plus what it lets through is the
        /// session's cost.
        #[test]
        fn the_cap_never_saves_more_than_the_spend_above_it(v in amounts(), cap in 1i128..50_000_000) {
            let cap = Money(cap * 10i128.pow(11));
            let total = Money::try_sum(v.iter().copied()).unwrap();
            let c = cap_session(&v, cap).unwrap();
            let above = total.try_sub(cap).unwrap().max(Money::ZERO);
            prop_assert!(c.saved <= above);
            if total <= cap { prop_assert_eq!(c.saved, Money::ZERO); }
            // An independent model: the allowed prefix is the shortest one reaching the cap.
            let mut run = Money::ZERO;
            let mut allowed = 0;
            for x in &v {
                if run >= cap { break; }
                run = run.try_add(*x).unwrap();
                allowed += 1;
            }
            prop_assert_eq!(c.refused as usize, v.len() - allowed);
            prop_assert_eq!(c.saved, total.try_sub(run).unwrap());
        }
    }
}
