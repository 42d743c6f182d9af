//! Exact money.
//!
//! Amounts are fixed-point integers: an `i128` count of 10⁻¹⁸ units of their currency
//! ([`SCALE`] decimal places). Parsing goes from the source's text straight to that
//! integer, so no amount ever passes through binary floating point. The store keeps the
//! same integers as Parquet `DECIMAL(38, 18)`. Rounding to a currency's minor unit
//! happens once, when a report is rendered, with largest-remainder rounding so that
//! printed rows add up to the printed total ([`largest_remainder`]).

use std::fmt;

/// Decimal places kept for every amount.
pub const SCALE: u32 = 18;

/// An exact amount, in 10⁻¹⁸ units of some currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    Empty,
    /// A `,` inside the number: a thousands separator or a decimal comma.
    Separator,
    /// A currency symbol such as `$` or `€`.
    Symbol,
    /// Too many digits to hold exactly.
    TooLarge,
    /// `1,234`: thousands or a decimal comma, no way to tell.
    Ambiguous,
    /// A currency symbol that does not match the row's currency.
    WrongSymbol,
    /// Anything else.
    Invalid,
}

impl MoneyError {
    /// The reason and the fix, for an error message.
    pub fn explain(&self) -> &'static str {
        match self {
            MoneyError::Empty => "an amount is required here but the cell is empty",
            MoneyError::Separator => {
                "not a plain number: it has a ',' (a thousands separator or a decimal comma); \
                 export amounts as plain numbers with a '.' decimal mark, e.g. 1234.56"
            }
            MoneyError::Symbol => {
                "not a plain number: it has a currency symbol; export amounts as plain \
                 numbers and give the currency in its own column"
            }
            MoneyError::TooLarge => "the amount has more digits than can be held exactly (38)",
            MoneyError::Ambiguous => {
                "ambiguous: the ',' may be a thousands separator or a decimal comma; export \
                 amounts as plain numbers with a '.' decimal mark, e.g. 1234.56"
            }
            MoneyError::WrongSymbol => {
                "the amount's currency symbol does not match the row's currency; check the \
                 currency column"
            }
            MoneyError::Invalid => "not a number (expected e.g. 12.5, -0.003 or 3.52E-6)",
        }
    }
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// Parses a plain decimal (`12.50`, `-0.0000004`, `.5`, `35.2E-7`).
    ///
    /// Digits beyond 18 decimal places are rounded half to even; no real export has
    /// them, and the error is below 10⁻¹⁸ of a currency unit.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        parse_scaled(text.trim_ascii().as_bytes(), SCALE).map(Money)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self × n`, exact (token counts times a per-token price).
    pub fn checked_mul_int(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n as i128).map(Money)
    }

    /// Rounded to the currency's minor unit, as text (`20.52`).
    pub fn in_minor_units(self, currency: &str) -> String {
        let d = minor_digits(currency);
        format_scaled(self.round_to(d), d)
    }

    /// Rounded to `decimals` places, half away from zero, as an integer count of
    /// 10^-decimals units (cents for 2).
    pub fn round_to(self, decimals: u32) -> i128 {
        let div = 10i128.pow(SCALE - decimals);
        let q = self.0 / div;
        let r = self.0 % div;
        if r.abs() * 2 >= div {
            q + self.0.signum()
        } else {
            q
        }
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 += o.0;
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

/// The exact value, trailing zeros trimmed: `20.52022672899`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format_scaled(self.0, SCALE);
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        f.write_str(&s)
    }
}

/// Parses an amount that may be written for people: `$10,000.00`, `-€1,234.5`,
/// `1,234,567`. Thousands separators are taken only where they cannot be a decimal comma
/// (a `.` follows them, or there are several groups); a leading `$ € £ ¥` must match
/// `currency`. Returns the amount and whether it needed this leniency.
pub fn parse_formatted(text: &str, currency: &str) -> Result<(Money, bool), MoneyError> {
    match Money::parse(text) {
        Ok(m) => return Ok((m, false)),
        Err(MoneyError::Separator | MoneyError::Symbol) => {}
        Err(e) => return Err(e),
    }
    let mut t = text.trim_ascii();
    let mut neg = false;
    if let Some(r) = t.strip_prefix('-') {
        neg = true;
        t = r.trim_start();
    }
    let mut chars = t.chars();
    if let Some(c @ ('$' | '€' | '£' | '¥')) = chars.next() {
        let ok = match c {
            '$' => currency.ends_with('D') || currency == "MXN",
            '€' => currency == "EUR",
            '£' => currency == "GBP",
            _ => currency == "JPY" || currency == "CNY",
        };
        if !ok {
            return Err(MoneyError::WrongSymbol);
        }
        t = chars.as_str().trim_start();
        if let Some(r) = t.strip_prefix('-') {
            neg = !neg;
            t = r;
        }
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    if groups.len() > 1 {
        let well_formed = (1..=3).contains(&groups[0].len())
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !well_formed {
            return Err(MoneyError::Separator);
        }
        if groups.len() == 2 && frac.is_none() {
            return Err(MoneyError::Ambiguous);
        }
    }
    let mut plain = String::with_capacity(t.len() + 1);
    if neg {
        plain.push('-');
    }
    plain.push_str(&groups.concat());
    if let Some(f) = frac {
        plain.push('.');
        plain.push_str(f);
    }
    Money::parse(&plain).map(|m| (m, true))
}

/// Formats `units` (a count of 10^-scale) with exactly `scale` decimals.
pub fn format_scaled(units: i128, scale: u32) -> String {
    let neg = units < 0;
    let abs = units.unsigned_abs();
    let div = 10u128.pow(scale);
    let int = abs / div;
    let frac = abs % div;
    let mut s = String::with_capacity(24);
    if neg {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if scale > 0 {
        s.push('.');
        let f = frac.to_string();
        for _ in f.len()..scale as usize {
            s.push('0');
        }
        s.push_str(&f);
    }
    s
}

/// Parses decimal text into an integer count of 10^-scale units.
pub fn parse_scaled(b: &[u8], scale: u32) -> Result<i128, MoneyError> {
    if b.is_empty() {
        return Err(MoneyError::Empty);
    }
    let mut i = 0;
    let mut neg = false;
    match b[0] {
        b'-' => {
            neg = true;
            i = 1;
        }
        b'+' => i = 1,
        _ => {}
    }
    let mut mant: i128 = 0;
    let mut digits = 0u32; // significant digits held in `mant`
    let mut frac_digits: i32 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    // Digits dropped past 38 significant ones: only allowed if they are zeros after the point.
    let mut dropped_nonzero = false;
    let mut dropped_int_digits: i32 = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = (c - b'0') as i128;
                if digits < 38 {
                    if mant != 0 || d != 0 {
                        digits += 1;
                    }
                    mant = mant * 10 + d;
                    if seen_point {
                        frac_digits += 1;
                    }
                } else if seen_point {
                    dropped_nonzero |= d != 0;
                } else {
                    dropped_int_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            b',' => return Err(MoneyError::Separator),
            b'$' | b'\xE2' | b'\xC2' | b'\xC5' => return Err(MoneyError::Symbol),
            _ => return Err(MoneyError::Invalid),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(if b.iter().any(|&c| c == b'$' || c >= 0x80) {
            MoneyError::Symbol
        } else {
            MoneyError::Invalid
        });
    }
    let mut exp: i32 = 0;
    if i < b.len() {
        // exponent
        i += 1;
        let mut eneg = false;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            eneg = b[i] == b'-';
            i += 1;
        }
        if i >= b.len() {
            return Err(MoneyError::Invalid);
        }
        while i < b.len() {
            let c = b[i];
            if !c.is_ascii_digit() {
                return Err(MoneyError::Invalid);
            }
            exp = exp.saturating_mul(10).saturating_add((c - b'0') as i32);
            i += 1;
        }
        if eneg {
            exp = -exp;
        }
    }
    if dropped_int_digits > 0 {
        return Err(MoneyError::TooLarge);
    }
    let shift = scale as i32 + exp - frac_digits;
    let value = if shift >= 0 {
        if mant == 0 {
            0
        } else {
            let p = 10i128
                .checked_pow(shift as u32)
                .ok_or(MoneyError::TooLarge)?;
            mant.checked_mul(p).ok_or(MoneyError::TooLarge)?
        }
    } else {
        let k = (-shift) as u32;
        if k > 38 {
            // Smaller than 10^-scale: rounds to zero (or is zero).
            0
        } else {
            let div = 10i128.pow(k);
            let q = mant / div;
            let r = mant % div;
            let half = div / 2;
            let round_up = r > half || (r == half && (dropped_nonzero || q % 2 == 1));
            q + round_up as i128
        }
    };
    Ok(if neg { -value } else { value })
}

/// Decimal places of a currency's minor unit (ISO 4217).
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Rounds `values` to `decimals` places so that they add up to their own rounded total
/// (largest remainder). Returns integer counts of 10^-decimals units.
///
/// Each value is first floored; the units still missing to reach the rounded total go,
/// one each, to the values with the largest remainders (ties: the earlier value). The
/// result depends only on the multiset of (value, position) pairs: sorting is by
/// remainder, then position.
pub fn largest_remainder(values: &[Money], decimals: u32) -> (Vec<i128>, i128) {
    let total: Money = values.iter().copied().sum();
    let target = total.round_to(decimals);
    (largest_remainder_to(values, decimals, target), target)
}

/// Like [`largest_remainder`], to a given rounded `target` (in 10^-decimals units).
pub fn largest_remainder_to(values: &[Money], decimals: u32, target: i128) -> Vec<i128> {
    let div = 10i128.pow(SCALE - decimals);
    let mut out: Vec<i128> = values.iter().map(|v| v.0.div_euclid(div)).collect();
    let floor_sum: i128 = out.iter().sum();
    let mut missing = target - floor_sum;
    if missing == 0 || values.is_empty() {
        return out;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    if missing > 0 {
        // Largest remainder first.
        order.sort_by(|&a, &b| {
            let ra = values[a].0.rem_euclid(div);
            let rb = values[b].0.rem_euclid(div);
            rb.cmp(&ra).then(a.cmp(&b))
        });
        let n = order.len() as i128;
        let mut k = 0usize;
        while missing > 0 {
            out[order[k % order.len()]] += 1;
            missing -= 1;
            k += 1;
            if k as i128 > 4 * n + 4 {
                // Cannot happen when target is the rounded sum; stay total anyway.
                let last = order[0];
                out[last] += missing;
                break;
            }
        }
    } else {
        // Target below the floors (only with a foreign target): take from the smallest remainders.
        order.sort_by(|&a, &b| {
            let ra = values[a].0.rem_euclid(div);
            let rb = values[b].0.rem_euclid(div);
            ra.cmp(&rb).then(a.cmp(&b))
        });
        let mut k = 0usize;
        while missing < 0 {
            out[order[k % order.len()]] -= 1;
            missing += 1;
            k += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ONE: i128 = 10i128.pow(SCALE);

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn parses_plain_and_scientific() {
        assert_eq!(m("12.5").0, 12_500_000_000_000_000_000);
        assert_eq!(m("-0.0000004").0, -400_000_000_000);
        assert_eq!(m("35.2E-7"), m("0.00000352"));
        assert_eq!(m("2.5e-06"), m("0.0000025"));
        assert_eq!(m("1e3"), m("1000"));
        assert_eq!(m(".5"), m("0.5"));
        assert_eq!(m("+3"), m("3"));
        assert_eq!(m("0.00000080000").to_string(), "0.0000008");
        assert_eq!(m("20.52022672899").to_string(), "20.52022672899");
        assert_eq!(m("-3.10").to_string(), "-3.1");
        assert_eq!(m("0").to_string(), "0");
    }

    #[test]
    fn rejects_what_is_not_a_plain_number() {
        assert_eq!(Money::parse(""), Err(MoneyError::Empty));
        assert_eq!(Money::parse("1,234.50"), Err(MoneyError::Separator));
        assert_eq!(Money::parse("12,5"), Err(MoneyError::Separator));
        assert_eq!(Money::parse("$12"), Err(MoneyError::Symbol));
        assert_eq!(Money::parse("12 €"), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("€12"), Err(MoneyError::Symbol));
        assert_eq!(Money::parse("abc"), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("1.2.3"), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("1e"), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("NaN"), Err(MoneyError::Invalid));
        assert_eq!(
            Money::parse("999999999999999999999999999999"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn formatted_amounts_when_unambiguous() {
        let f = |s: &str, c: &str| parse_formatted(s, c);
        assert_eq!(f("$10,000.00", "USD"), Ok((m("10000"), true)));
        assert_eq!(f("-$1,234.5", "USD"), Ok((m("-1234.5"), true)));
        assert_eq!(f("$-5", "USD"), Ok((m("-5"), true)));
        assert_eq!(f("1,234,567", "EUR"), Ok((m("1234567"), true)));
        assert_eq!(f("€1,234.50", "EUR"), Ok((m("1234.5"), true)));
        assert_eq!(f("12.5", "EUR"), Ok((m("12.5"), false)));
        assert_eq!(f("1,234", "USD"), Err(MoneyError::Ambiguous));
        assert_eq!(f("12,5", "EUR"), Err(MoneyError::Separator));
        assert_eq!(f("1,23,456.00", "USD"), Err(MoneyError::Separator));
        assert_eq!(f("$10.00", "EUR"), Err(MoneyError::WrongSymbol));
        assert_eq!(f("1.234,56", "EUR"), Err(MoneyError::Separator));
    }

    #[test]
    fn rounds_beyond_scale_half_even() {
        assert_eq!(m("0.0000000000000000005").0, 0);
        assert_eq!(m("0.0000000000000000015").0, 2);
        assert_eq!(m("0.0000000000000000025").0, 2);
        assert_eq!(m("1e-40").0, 0);
    }

    #[test]
    fn round_to_cents_half_away_from_zero() {
        assert_eq!(m("20.525").round_to(2), 2053);
        assert_eq!(m("-20.525").round_to(2), -2053);
        assert_eq!(m("20.52022672899").round_to(2), 2052);
        assert_eq!(m("0.004999").round_to(2), 0);
    }

    #[test]
    fn largest_remainder_hand_case() {
        // 3 × 1/3 of a dollar: 0.33 + 0.33 + 0.34 = 1.00
        let third = Money(ONE / 3);
        let vals = [third, third, Money(ONE - 2 * (ONE / 3))];
        let (cents, total) = largest_remainder(&vals, 2);
        assert_eq!(total, 100);
        assert_eq!(cents.iter().sum::<i128>(), 100);
        assert_eq!(cents, vec![33, 33, 34]);
    }

    proptest! {
        #[test]
        fn parse_format_roundtrip(units in any::<i64>(), exp in 0u32..18) {
            let v = units as i128 * 10i128.pow(exp);
            let text = format_scaled(v, SCALE);
            prop_assert_eq!(Money::parse(&text).unwrap().0, v);
            prop_assert_eq!(Money::parse(&Money(v).to_string()).unwrap().0, v);
        }

        #[test]
        fn rounded_rows_add_up_to_rounded_total(
            vals in proptest::collection::vec(-10_000_000_000_000_000_000i128..10_000_000_000_000_000_000i128, 0..40),
            decimals in 0u32..4,
        ) {
            let vals: Vec<Money> = vals.into_iter().map(Money).collect();
            let (rounded, total) = largest_remainder(&vals, decimals);
            prop_assert_eq!(rounded.iter().sum::<i128>(), total);
            let div = 10i128.pow(SCALE - decimals);
            for (r, v) in rounded.iter().zip(&vals) {
                // Each row moves by less than one unit from its exact value.
                prop_assert!((r * div - v.0).abs() < div);
            }
        }
    }
}
