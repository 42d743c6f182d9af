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

/// The exclusive bound on an amount's magnitude, in 10⁻¹⁸ units: 10²⁰ currency units,
/// the most a Parquet `DECIMAL(38, 18)` holds. Every amount read is below it, and the store
/// keeps the sum of all its amounts' magnitudes below it too (docs/store.md), so that any
/// `SUM` over the store, in finops, DuckDB or Spark, fits.
pub const LIMIT: i128 = 10i128.pow(38);

/// A sum or product of amounts beyond what an `i128` of 10⁻¹⁸ units holds (±1.7 × 10²⁰).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("amounts add up beyond what can be held exactly (±1.7 × 10^20 currency units)")
    }
}

impl std::error::Error for Overflow {}

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    Empty,
    /// A `,` inside the number: a thousands separator or a decimal comma.
    Separator,
    /// A currency symbol such as `$` or `€`.
    Symbol,
    /// At or beyond [`LIMIT`].
    TooLarge,
    /// `1,234`: thousands or a decimal comma, no way to tell.
    Ambiguous,
    /// A currency symbol that does not match the row's currency.
    WrongSymbol(char),
    /// Anything else (also NaN and infinities).
    Invalid,
}

impl MoneyError {
    /// What is wrong, written to follow the quoted value: `"1,234" is ambiguous: ...`.
    pub fn reason(&self) -> String {
        match self {
            MoneyError::Empty => "is empty, but an amount is required here".into(),
            MoneyError::Separator => {
                "is not a plain number: it has a ',' (a thousands separator or a decimal comma)"
                    .into()
            }
            MoneyError::Symbol => "is not a plain number: it has a currency symbol".into(),
            MoneyError::TooLarge => {
                "is too large: an amount must be below 10^20 in absolute value (what the store's DECIMAL(38,18) holds)"
                    .into()
            }
            MoneyError::Ambiguous => {
                "is ambiguous: the ',' may be a thousands separator or a decimal comma".into()
            }
            MoneyError::WrongSymbol(c) => {
                format!("has the currency symbol '{c}', which does not match the row's currency")
            }
            MoneyError::Invalid => "is not a number (expected e.g. 12.5, -0.003 or 3.52E-6)".into(),
        }
    }

    /// How to fix it.
    pub fn fix(&self) -> &'static str {
        match self {
            MoneyError::Empty => "give the amount; write 0 for a zero amount",
            MoneyError::Separator | MoneyError::Ambiguous => {
                "export amounts as plain numbers with a '.' decimal mark, e.g. 1234.56"
            }
            MoneyError::Symbol => {
                "export amounts as plain numbers and give the currency in its own column"
            }
            MoneyError::TooLarge => {
                "check the column and its unit: a quantity or an id in the cost column, or a value exported in a tiny unit"
            }
            MoneyError::WrongSymbol(_) => {
                "check the currency column, or export amounts without currency symbols"
            }
            MoneyError::Invalid => "export amounts as plain decimal numbers",
        }
    }
}

impl Money {
    pub const ZERO: Money = Money(0);

    /// Parses a plain decimal (`12.50`, `-0.0000004`, `.5`, `35.2E-7`).
    ///
    /// Digits beyond 18 decimal places are rounded half to even; no real export has
    /// them, and the error is below 10⁻¹⁸ of a currency unit. Magnitudes from 10²⁰ up are
    /// refused ([`LIMIT`]).
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let v = parse_scaled(text.trim_ascii().as_bytes(), SCALE)?;
        Money::bounded(v)
    }

    /// An amount from a binary float, as the decimal of its shortest round-trip text (what
    /// DuckDB, Python and Spark print for it): 0.1 is exactly 0.1, never
    /// 0.1000000000000000055511151231257827. Of two shortest texts equally near the
    /// float, the one with an even last digit, as they print it (Rust's `{}` can pick the
    /// other).
    pub fn from_f64(f: f64) -> Result<Money, MoneyError> {
        if !f.is_finite() {
            return Err(MoneyError::Invalid);
        }
        if let Some(m) = short_decimal(f) {
            return Ok(m);
        }
        // ryu's text is in E-notation past 1e16 and below 1e-5, which the parser reads.
        Money::parse(ryu::Buffer::new().format_finite(f))
    }

    /// Like [`Money::from_f64`], for a 32-bit float (its own shortest text: 0.1f32 is 0.1).
    pub fn from_f32(f: f32) -> Result<Money, MoneyError> {
        if !f.is_finite() {
            return Err(MoneyError::Invalid);
        }
        Money::parse(ryu::Buffer::new().format_finite(f))
    }

    /// An amount from a decimal's unscaled integer and scale (Parquet `DECIMAL(p, s)`),
    /// exact; digits beyond 18 places rounded half to even.
    pub fn from_decimal(unscaled: i128, scale: u32) -> Result<Money, MoneyError> {
        if scale <= SCALE {
            let v = 10i128
                .checked_pow(SCALE - scale)
                .and_then(|p| unscaled.checked_mul(p))
                .ok_or(MoneyError::TooLarge)?;
            Money::bounded(v)
        } else {
            Money::parse(&format_scaled(unscaled, scale))
        }
    }

    fn bounded(v: i128) -> Result<Money, MoneyError> {
        if v.unsigned_abs() >= LIMIT as u128 {
            Err(MoneyError::TooLarge)
        } else {
            Ok(Money(v))
        }
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self + other`, or [`Overflow`].
    pub fn try_add(self, other: Money) -> Result<Money, Overflow> {
        self.checked_add(other).ok_or(Overflow)
    }

    /// `self - other`, or [`Overflow`].
    pub fn try_sub(self, other: Money) -> Result<Money, Overflow> {
        self.0.checked_sub(other.0).map(Money).ok_or(Overflow)
    }

    /// Adds `other` in place, or [`Overflow`] (and `self` unchanged).
    pub fn add_assign(&mut self, other: Money) -> Result<(), Overflow> {
        *self = self.try_add(other)?;
        Ok(())
    }

    /// The sum of amounts, checked.
    pub fn try_sum<I: IntoIterator<Item = Money>>(iter: I) -> Result<Money, Overflow> {
        iter.into_iter().try_fold(Money::ZERO, Money::try_add)
    }

    /// `self × n`, exact (token counts times a per-token price); None when the product
    /// reaches [`LIMIT`].
    pub fn checked_mul_int(self, n: i64) -> Option<Money> {
        self.0
            .checked_mul(n as i128)
            .and_then(|v| Money::bounded(v).ok())
    }

    /// `self × num / den`, rounded half to even at 10⁻¹⁸ (a share, a rate, an
    /// interpolation); [`Overflow`] when `den` is zero or the result leaves the range of an
    /// amount. Computed in 256 bits, so no intermediate product overflows.
    pub fn mul_ratio(self, num: i128, den: i128) -> Result<Money, Overflow> {
        use ethnum::I256;
        if den == 0 {
            return Err(Overflow);
        }
        let (p, d) = (I256::from(self.0) * I256::from(num), I256::from(den));
        let (p, d) = if d < 0 { (-p, -d) } else { (p, d) };
        // Floor division, then round the remainder half to even.
        let mut q = p / d;
        let mut r = p % d;
        if r < 0 {
            q -= I256::ONE;
            r += d;
        }
        let twice = r * 2;
        if twice > d || (twice == d && q % 2 != 0) {
            q += I256::ONE;
        }
        if q.abs() >= I256::from(LIMIT) {
            return Err(Overflow);
        }
        Ok(Money(q.as_i128()))
    }

    /// `self × factor` where the factor is itself an amount-scaled decimal (a multiplier,
    /// a threshold of 0.8, an exchange rate), rounded half to even at 10⁻¹⁸.
    pub fn times(self, factor: Money) -> Result<Money, Overflow> {
        self.mul_ratio(factor.0, 10i128.pow(SCALE))
    }

    /// self / other as a float, for display (utilisation, shares); None when other is 0.
    pub fn ratio_to(self, other: Money) -> Option<f64> {
        (other.0 != 0).then(|| self.0 as f64 / other.0 as f64)
    }

    /// |self|, in units (never overflows: `i128::MIN` is not a valid amount's magnitude,
    /// and its unsigned magnitude still fits).
    pub fn magnitude(self) -> u128 {
        self.0.unsigned_abs()
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
        if r.unsigned_abs() * 2 >= div as u128 {
            q + self.0.signum()
        } else {
            q
        }
    }
}

/// Powers of ten, each exact as an f64 (every power up to 10²² is).
const POW10: [f64; SCALE as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// The shortest decimal of `f` without text, when it has at most [`SCALE`] places and its
/// digits as an integer stay below 2⁴⁴: most amounts in exports (`0.0035`, `12.5`).
/// Otherwise None, and [`Money::from_f64`] goes through ryu's text.
///
/// Tries 0, 1, 2, ... places. With `k` places, `x = f·10ᵏ` is computed with one rounding
/// (10ᵏ is exact), so `|x − f·10ᵏ| < 2⁻⁹` while `|x| < 2⁴⁴`; the decimals that read back
/// as `f` span less than 2⁻⁸ units of the k-th place. So a k-place decimal that reads
/// back as `f` is unique and is `round(x)`, and `round(x) / 10ᵏ == f` (a correctly
/// rounded division, rounding as a parser does) tells whether it reads back. The first
/// `k` that does gives the shortest text's value: a decimal of more places but as few
/// significant digits would lie a tenth of a unit away, outside that span. The property
/// tests check this against ryu and against a model of the shortest text.
fn short_decimal(f: f64) -> Option<Money> {
    const MAX: f64 = (1u64 << 44) as f64;
    for (k, p) in POW10.iter().enumerate() {
        let x = f * p;
        if x.abs() >= MAX {
            return None;
        }
        // The integer nearest x when x is within a few ulps of one (the only case the test
        // below accepts), by truncation: `round` is a libm call per attempt.
        let n = (x + 0.5f64.copysign(x)) as i64 as f64;
        if n / p == f {
            // |n| < 2⁴⁴ and k ≤ 18: far inside i128 and below LIMIT.
            return Some(Money(n as i128 * 10i128.pow(SCALE - k as u32)));
        }
    }
    None
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
            return Err(MoneyError::WrongSymbol(c));
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
    // Saturating: an exponent of a billion digits must be an error, never an overflow.
    let shift = (scale as i32)
        .saturating_add(exp)
        .saturating_sub(frac_digits);
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

/// Decimal places of a currency's minor unit (ISO 4217; 2 for codes it does not list or
/// gives none, such as gold or test codes).
pub fn minor_digits(currency: &str) -> u32 {
    iso_currency::Currency::from_code(currency)
        .and_then(|c| c.exponent())
        .map_or(2, |e| u32::from(e).min(SCALE))
}

/// Rounds `values` to `decimals` places so that they add up to their own rounded total
/// (largest remainder). Returns integer counts of 10^-decimals units, and the total.
pub fn largest_remainder(values: &[Money], decimals: u32) -> Result<(Vec<i128>, i128), Overflow> {
    let total = Money::try_sum(values.iter().copied())?;
    let target = total.round_to(decimals);
    Ok((largest_remainder_to(values, decimals, target), target))
}

/// Like [`largest_remainder`], to a given rounded `target` (in 10^-decimals units).
///
/// Each value is first floored; the units still missing to reach the target go, one each,
/// to the values with the largest remainders (ties: the earlier value). When the target is
/// the rounded sum, fewer units are missing than there are values; for any other target
/// every value first gets an equal share of the difference, so the work is O(n log n)
/// whatever the target, and the result depends only on the (value, position) pairs.
pub fn largest_remainder_to(values: &[Money], decimals: u32, target: i128) -> Vec<i128> {
    use ethnum::I256;
    let div = 10i128.pow(SCALE - decimals);
    let mut out: Vec<i128> = values.iter().map(|v| v.0.div_euclid(div)).collect();
    if values.is_empty() {
        return out;
    }
    let floor_sum: I256 = out.iter().map(|&v| I256::from(v)).sum();
    let missing = I256::from(target) - floor_sum;
    if missing == I256::ZERO {
        return out;
    }
    let n = I256::from(values.len() as u64);
    let (each, rest) = (missing.div_euclid(n), missing.rem_euclid(n));
    if each != I256::ZERO {
        // Only with a foreign target; saturate rather than wrap (a clamped cell is still
        // visibly wrong, a wrapped one is silently so).
        let each = each
            .clamp(I256::from(i128::MIN), I256::from(i128::MAX))
            .as_i128();
        for v in out.iter_mut() {
            *v = v.saturating_add(each);
        }
    }
    // `rest` is in 0..n: one more unit each for the `rest` largest remainders.
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = values[a].0.rem_euclid(div);
        let rb = values[b].0.rem_euclid(div);
        rb.cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(rest.as_usize()) {
        out[i] = out[i].saturating_add(1);
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

    /// Floats read exactly as their shortest text, at the edges of the text-free path: the
    /// neighbour of a 15-digit amount (the path must not trust a product past 2⁴⁴), the
    /// largest products it takes, E-notation sizes, negative zero.
    #[test]
    fn floats_at_the_edges_of_the_fast_path_read_as_their_shortest_text() {
        let cases = [
            (1030679423605.01f64.next_up(), "1030679423605.0101"),
            (0.1 + 0.2, "0.30000000000000004"),
            (17592186044415.0, "17592186044415"),
            (17592186044416.0, "17592186044416"),
            (1759218604441.5, "1759218604441.5"),
            (0.0035, "0.0035"),
            (12.5, "12.5"),
            (-0.0000025, "-0.0000025"),
            (1e-18, "0.000000000000000001"),
            (2.5e16, "25000000000000000"),
            (-0.0, "0"),
        ];
        for (f, want) in cases {
            assert_eq!(Money::from_f64(f), Ok(m(want)), "{f:e}");
        }
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
        assert_eq!(f("$10.00", "EUR"), Err(MoneyError::WrongSymbol('$')));
        assert_eq!(f("1.234,56", "EUR"), Err(MoneyError::Separator));
    }

    #[test]
    fn rounds_beyond_scale_half_even() {
        assert_eq!(m("0.0000000000000000005").0, 0);
        assert_eq!(m("0.0000000000000000015").0, 2);
        assert_eq!(m("0.0000000000000000025").0, 2);
        assert_eq!(m("1e-40").0, 0);
        // Exponents beyond i32: an error or zero, never an overflow.
        assert_eq!(Money::parse("1e99999999999"), Err(MoneyError::TooLarge));
        assert_eq!(m("1e-99999999999").0, 0);
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
        let (cents, total) = largest_remainder(&vals, 2).unwrap();
        assert_eq!(total, 100);
        assert_eq!(cents.iter().sum::<i128>(), 100);
        assert_eq!(cents, vec![33, 33, 34]);
    }

    #[test]
    fn amounts_at_or_beyond_the_limit_are_refused() {
        assert_eq!(Money::parse("1e20"), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::parse("-100000000000000000000"),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::parse("99999999999999999999.999999999999999999")
                .unwrap()
                .0,
            LIMIT - 1
        );
        assert_eq!(Money::parse("1e30"), Err(MoneyError::TooLarge));
        assert_eq!(Money(LIMIT - 1).checked_mul_int(2), None);
        assert_eq!(Money(i128::MAX).try_add(Money(1)), Err(Overflow));
        assert_eq!(Money(i128::MIN).try_sub(Money(1)), Err(Overflow));
        assert_eq!(Money::try_sum([Money(i128::MAX), Money(1)]), Err(Overflow));
    }

    #[test]
    fn floats_become_their_shortest_decimal() {
        assert_eq!(Money::from_f64(0.1).unwrap(), m("0.1"));
        assert_eq!(Money::from_f64(1234567.891).unwrap(), m("1234567.891"));
        assert_eq!(Money::from_f64(0.0000160599).unwrap(), m("0.0000160599"));
        assert_eq!(Money::from_f64(-3.52e-6).unwrap(), m("-0.00000352"));
        assert_eq!(Money::from_f32(0.1).unwrap(), m("0.1"));
        assert_eq!(Money::from_f32(1234.5677).unwrap(), m("1234.5677"));
        assert_eq!(Money::from_f64(f64::NAN), Err(MoneyError::Invalid));
        assert_eq!(Money::from_f64(f64::INFINITY), Err(MoneyError::Invalid));
        assert_eq!(Money::from_f64(1e20), Err(MoneyError::TooLarge));
        assert_eq!(Money::from_decimal(12345, 2).unwrap(), m("123.45"));
        assert_eq!(Money::from_decimal(-5, 0).unwrap(), m("-5"));
        // Beyond 18 places: rounded half to even.
        assert_eq!(Money::from_decimal(15, 19).unwrap().0, 2);
        assert_eq!(
            Money::from_decimal(10i128.pow(37), 16),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(minor_digits("USD"), 2);
        assert_eq!(minor_digits("JPY"), 0);
        assert_eq!(minor_digits("KWD"), 3);
        assert_eq!(minor_digits("CLF"), 4);
        assert_eq!(minor_digits("XAU"), 2);
        assert_eq!(minor_digits("ZZZ"), 2);
    }

    #[test]
    fn largest_remainder_with_a_foreign_target_is_quick_and_exact() {
        // A target far from the rows' sum (a wrapped total once made this loop forever).
        let vals = [m("1.004"), m("2.006"), m("3")];
        let out = largest_remainder_to(&vals, 2, i128::MIN / 2);
        assert_eq!(
            out.iter()
                .map(|&v| ethnum::I256::from(v))
                .sum::<ethnum::I256>(),
            ethnum::I256::from(i128::MIN / 2)
        );
        let out = largest_remainder_to(&vals, 2, 1000);
        assert_eq!(out.iter().sum::<i128>(), 1000);
        // 2 units short of the floors (600): taken from the smallest remainders.
        assert_eq!(largest_remainder_to(&vals, 2, 598), vec![99, 200, 299]);
    }

    /// The model: `{:.pe}` is the float's exact value correctly rounded (ties to even) to
    /// p + 1 significant digits; the first p that reads back as `f` is the shortest.
    fn shortest(f: f64) -> String {
        (0..17usize)
            .map(|p| format!("{f:.p$e}"))
            .find(|t| t.parse::<f64>() == Ok(f))
            .unwrap_or_else(|| format!("{f:e}"))
    }

    #[test]
    fn a_float_halfway_between_two_shortest_texts_takes_the_even_one() {
        // 1242244343378331.25 exactly: .2 and .3 are equally near; DuckDB and Python print .2.
        let f = f64::from_bits(4832827777914685037);
        assert_eq!(format!("{f:.2}"), "1242244343378331.25");
        assert_eq!(
            Money::from_f64(f).unwrap(),
            Money::parse("1242244343378331.2").unwrap()
        );
        assert_eq!(crate::source::record::float_text(f), "1242244343378331.2");
        assert_eq!(crate::source::record::float_text(1e-7), "0.0000001");
        assert_eq!(
            crate::source::record::float_text(-2.5e20),
            "-250000000000000000000"
        );
        assert_eq!(crate::source::record::float_text(3.0), "3");
    }

    proptest! {
        /// Against an independent model of "shortest round-trip text": the fewest
        /// correctly rounded significant digits that read back as the same float.
        #[test]
        fn floats_read_as_their_shortest_text(bits in any::<u64>(), small in -1e9f64..1e9, b32 in any::<u32>()) {
            for f in [f64::from_bits(bits), small, small / 1e7, small.trunc() + 0.25] {
                let want = if f.is_finite() { Money::parse(&shortest(f)) } else { Err(MoneyError::Invalid) };
                prop_assert_eq!(Money::from_f64(f), want, "{:e}", f);
                if f.is_finite() {
                    // Its plain text reads back as the float, and as the same amount.
                    let text = crate::source::record::float_text(f);
                    prop_assert!(!text.contains('e'), "{}", text);
                    prop_assert_eq!(text.parse::<f64>(), Ok(f), "{}", text);
                    prop_assert_eq!(Money::parse(&text), Money::from_f64(f));
                }
            }
            let f = f32::from_bits(b32);
            let want = if f.is_finite() {
                let text = (0..12usize)
                    .map(|p| format!("{f:.p$e}"))
                    .find(|t| t.parse::<f32>() == Ok(f))
                    .unwrap();
                Money::parse(&text)
            } else {
                Err(MoneyError::Invalid)
            };
            prop_assert_eq!(Money::from_f32(f), want, "{:e}", f);
        }

        /// Short decimals (the fast path) and their neighbouring floats agree with ryu's
        /// text and with the model.
        #[test]
        fn short_decimals_read_as_ryu_and_the_model_read_them(n in -(1i64 << 50)..(1i64 << 50), k in 0usize..20, step in -2i32..=2) {
            let mut f = n as f64 / 10f64.powi(k as i32);
            for _ in 0..step.abs() {
                f = if step > 0 { f.next_up() } else { f.next_down() };
            }
            let slow = Money::parse(ryu::Buffer::new().format_finite(f));
            prop_assert_eq!(Money::from_f64(f), slow, "{:e}", f);
            prop_assert_eq!(Money::from_f64(f), Money::parse(&shortest(f)), "{:e}", f);
        }

        #[test]
        fn parse_format_roundtrip(units in any::<i64>(), exp in 0u32..18) {
            let v = (units as i128 * 10i128.pow(exp)) % LIMIT;
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
            let (rounded, total) = largest_remainder(&vals, decimals).unwrap();
            prop_assert_eq!(rounded.iter().sum::<i128>(), total);
            let div = 10i128.pow(SCALE - decimals);
            for (r, v) in rounded.iter().zip(&vals) {
                // Each row moves by less than one unit from its exact value.
                prop_assert!((r * div - v.0).abs() < div);
            }
        }
    }
}
