//! Splitting an amount over teams exactly (SPEC §4.3, §4.4).
//!
//! Every split works in the store's 10⁻¹⁸ units: each share is pool × weight / Σ weight,
//! floored, and the units still missing go one each to the largest remainders (ties: the
//! smaller key). So the shares always add up to the pool exactly, a non-negative pool gives
//! non-negative shares, and the result depends only on the (key, weight) pairs, never on
//! their order. The products are computed in 256 bits, so no magnitude overflows.

use std::collections::BTreeMap;

use ethnum::I256;

use crate::money::Money;

/// Splits `pool` over `weights` (key → non-negative weight, any unit). Returns None when
/// the weights sum to zero (nothing to split by).
pub fn split<K: Ord + Clone>(
    pool: Money,
    weights: &BTreeMap<K, i128>,
) -> Option<BTreeMap<K, Money>> {
    let total: I256 = weights.values().map(|&w| I256::from(w.max(0))).sum();
    if total == I256::ZERO {
        return None;
    }
    let negative = pool.0 < 0;
    let p = I256::from(pool.0.unsigned_abs());
    let mut shares: Vec<(K, I256, I256)> = weights
        .iter()
        .map(|(k, &w)| {
            let prod = p * I256::from(w.max(0));
            (k.clone(), prod / total, prod % total)
        })
        .collect();
    let floored: I256 = shares.iter().map(|(_, q, _)| *q).sum();
    let mut missing = p - floored;
    // Largest remainder first; ties by key (BTreeMap order is already by key, and the
    // sort is stable).
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2));
    let mut i = 0;
    while missing > I256::ZERO {
        shares[order[i % order.len()]].1 += I256::ONE;
        missing -= I256::ONE;
        i += 1;
    }
    Some(
        shares
            .into_iter()
            .map(|(k, q, _)| {
                let v = q.as_i128();
                (k, Money(if negative { -v } else { v }))
            })
            .collect(),
    )
}

/// Splits evenly over `keys`.
pub fn split_even<K: Ord + Clone>(
    pool: Money,
    keys: impl IntoIterator<Item = K>,
) -> Option<BTreeMap<K, Money>> {
    let weights: BTreeMap<K, i128> = keys.into_iter().map(|k| (k, 1)).collect();
    split(pool, &weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn hand_computed_splits() {
        // 100.00 by cost 60 : 30 : 10
        let w: BTreeMap<&str, i128> = [("a", 60), ("b", 30), ("c", 10)].into();
        let s = split(m("100"), &w).unwrap();
        assert_eq!((s["a"], s["b"], s["c"]), (m("60"), m("30"), m("10")));
        // 1.00 over three: the one spare 10⁻¹⁸ unit goes to the first key.
        let s = split_even(m("1"), ["x", "y", "z"]).unwrap();
        assert_eq!(s["x"].0, 333_333_333_333_333_334);
        assert_eq!(s["y"].0, 333_333_333_333_333_333);
        assert_eq!(Money::try_sum(s.values().copied()), Ok(m("1")));
        // A credit splits the same way, negated.
        let s = split(m("-100"), &w).unwrap();
        assert_eq!(s["a"], m("-60"));
        assert!(split(m("5"), &BTreeMap::from([("a", 0i128)])).is_none());
    }

    #[test]
    fn huge_magnitudes_do_not_overflow() {
        let big = i128::MAX / 4;
        let w: BTreeMap<u8, i128> = [(1, big), (2, big), (3, 1)].into();
        let s = split(Money(big), &w).unwrap();
        assert_eq!(s.values().map(|m| m.0).sum::<i128>(), big);
    }

    proptest! {
        #[test]
        fn shares_sum_to_the_pool_exactly(
            pool in -10i128.pow(30)..10i128.pow(30),
            weights in proptest::collection::btree_map(0u16..50, 0i128..10i128.pow(24), 1..12),
        ) {
            if let Some(s) = split(Money(pool), &weights) {
                prop_assert_eq!(s.values().map(|m| m.0).sum::<i128>(), pool);
                let total: i128 = weights.values().sum();
                for (k, share) in &s {
                    // Never negative for a non-negative pool.
                    if pool >= 0 { prop_assert!(share.0 >= 0); }
                    // Within one unit of the exact proportion.
                    let exact = I256::from(pool) * I256::from(weights[k]) / I256::from(total);
                    prop_assert!((I256::from(share.0) - exact).abs() <= I256::ONE);
                }
            }
        }

        #[test]
        fn independent_of_input_order(
            pool in 0i128..10i128.pow(24),
            mut pairs in proptest::collection::vec((0u16..1000, 0i128..10i128.pow(20)), 1..10),
        ) {
            pairs.sort();
            pairs.dedup_by_key(|p| p.0);
            let forward: BTreeMap<u16, i128> = pairs.iter().copied().collect();
            let backward: BTreeMap<u16, i128> = pairs.iter().rev().copied().collect();
            prop_assert_eq!(split(Money(pool), &forward), split(Money(pool), &backward));
        }
    }
}
