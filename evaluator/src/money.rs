//! Money, currencies, percentages and rounding: exact integer arithmetic, never floats.
//!
//! Amounts are `i64` minor units of one currency (cents for USD, yen for JPY, fils for KWD).
//! Percentages (discounts and tax rates) are `u64` millionths of a percent, so `12.5%` is
//! `12_500_000` and every product fits comfortably in `i128` before it is rounded once.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::FieldError;

/// The largest amount accepted anywhere, in minor units (10^15: ten trillion dollars).
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Scale of [`Percent`]: one percent is this many units.
pub const PERCENT_UNIT: u64 = 1_000_000;
const HUNDRED_PERCENT: u64 = 100 * PERCENT_UNIT;

/// An ISO 4217 currency this build knows, with its minor-unit exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    code: &'static str,
    exponent: u32,
}

/// ISO 4217 codes and their minor-unit exponents (codes not listed are refused).
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Looks a currency code up; `None` for a code this build does not know.
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Currency { code, exponent })
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// Converts a parsed decimal into minor units, refusing more places than the currency has.
    /// `path` names the field for the error; it is only called when there is one.
    pub fn to_minor(
        &self,
        value: &DecimalString,
        path: &dyn Fn() -> String,
    ) -> Result<i64, FieldError> {
        let d = value.0;
        if d.scale() > self.exponent {
            return Err(FieldError::new(
                path(),
                format!(
                    "`{d}` has more decimal places than `{}` allows ({})",
                    self.code, self.exponent
                ),
            ));
        }
        let minor = d
            .checked_mul(Decimal::from(10_i64.pow(self.exponent)))
            .and_then(|m| i64::try_from(m.normalize().mantissa()).ok())
            .filter(|m| *m <= MAX_MINOR)
            .ok_or_else(|| FieldError::new(path(), format!("amount `{d}` is too large")))?;
        Ok(minor)
    }

    /// Formats minor units as a decimal string with exactly the currency's places.
    pub fn format(&self, minor: i64) -> String {
        format_minor(minor, self.exponent)
    }
}

/// Formats minor units as a decimal string with `exponent` places (`-1234`, 2 → `"-12.34"`).
pub fn format_minor(minor: i64, exponent: u32) -> String {
    Amount { minor, exponent }.to_string()
}

/// An amount of money in one currency: minor units and the currency's exponent. It prints and
/// serializes as a decimal string with exactly the currency's places (`"19.99"`, `"1500"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(type = "string", rename = "Money")
)]
pub struct Amount {
    minor: i64,
    exponent: u32,
}

impl Amount {
    pub fn new(minor: i64, currency: Currency) -> Amount {
        Amount {
            minor,
            exponent: currency.exponent,
        }
    }

    /// The amount in minor units (cents for USD).
    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn exponent(self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(digits(self.minor, self.exponent, &mut [0_u8; 32]))
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(digits(self.minor, self.exponent, &mut [0_u8; 32]))
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0_u8; 32];
        serializer.serialize_str(self.digits(&mut buf))
    }
}

/// The decimal digits of `minor` with `exponent` places, written into `buf` (no allocation).
/// Callers pass a currency's exponent (at most 3), a percentage's (6) or a decimal's scale up
/// to 18: at most 21 bytes. (Past 30 places the buffer would be short, and digits lost.)
fn digits(minor: i64, exponent: u32, buf: &mut [u8; 32]) -> &str {
    // From the right, two digits at a time where it can (hot: a large answer writes a thousand
    // amounts): the `exponent` places, the point, then the whole part (at least one digit).
    let mut pos = buf.len();
    let mut abs = minor.unsigned_abs();
    let mut put = |pos: &mut usize, bytes: &[u8]| {
        *pos = pos.saturating_sub(bytes.len());
        if let Some(to) = buf.get_mut(*pos..*pos + bytes.len()) {
            to.copy_from_slice(bytes);
        }
    };
    // `abs % 100` is below 100, so the casts cannot truncate.
    let pair = |abs: u64| {
        let two = (abs % 100) as u8;
        [b'0' + two / 10, b'0' + two % 10]
    };
    let single = |abs: u64| [b'0' + (abs % 10) as u8];
    let mut places = exponent;
    while places >= 2 {
        put(&mut pos, &pair(abs));
        abs /= 100;
        places -= 2;
    }
    if places == 1 {
        put(&mut pos, &single(abs));
        abs /= 10;
    }
    if exponent > 0 {
        put(&mut pos, b".");
    }
    while abs >= 100 {
        put(&mut pos, &pair(abs));
        abs /= 100;
    }
    if abs >= 10 {
        put(&mut pos, &pair(abs));
    } else {
        put(&mut pos, &single(abs));
    }
    if minor < 0 {
        put(&mut pos, b"-");
    }
    buf.get(pos..)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or_default()
}

/// A non-negative decimal read from a JSON string such as `"19.99"`.
///
/// Only plain digits with an optional fraction are accepted: no sign, exponent, underscores or
/// spaces, and never a JSON number (a float would already have lost the exact value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct DecimalString(pub Decimal);

impl DecimalString {
    pub fn parse(s: &str) -> Result<DecimalString, String> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if s.starts_with('-') {
            return Err(format!("`{s}` is negative"));
        }
        if !digits(int) || frac.is_some_and(|f| !digits(f)) || s.len() > 28 {
            return Err(format!(
                "`{s}` is not a plain decimal string such as \"19.99\""
            ));
        }
        Decimal::from_str_exact(s)
            .map(DecimalString)
            .map_err(|_| format!("`{s}` is not a representable decimal"))
    }
}

impl<'de> Deserialize<'de> for DecimalString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DecimalString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string such as \"19.99\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecimalString, E> {
                DecimalString::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for DecimalString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As `Decimal` displays it (its scale kept: "1.50"), without the formatting machinery
        // when the digits fit: every amount and percentage of the canonical terms an approval
        // digest hashes goes through here.
        match (i64::try_from(self.0.mantissa()), self.0.scale()) {
            // Not a negative zero, which `Decimal` displays as "-0" (none is read: no sign is).
            (Ok(minor), exponent @ 0..=18) if !self.0.is_sign_negative() || minor != 0 => {
                serializer.serialize_str(digits(minor, exponent, &mut [0_u8; 32]))
            }
            _ => serializer.collect_str(&self.0),
        }
    }
}

/// A percentage in millionths of a percent (`"12.5"` → `12_500_000`), between 0 and 100. It
/// serializes as a decimal string without trailing zeros (`"12.5"`, `"20"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct Percent(u64);

impl Percent {
    pub const ZERO: Percent = Percent(0);
    pub const HUNDRED: Percent = Percent(HUNDRED_PERCENT);

    pub fn from_decimal(
        value: &DecimalString,
        path: &dyn Fn() -> String,
    ) -> Result<Percent, FieldError> {
        let d = value.0;
        if d.scale() > 6 {
            return Err(FieldError::new(
                path(),
                format!("percentage `{d}` has more than 6 decimal places"),
            ));
        }
        if d > Decimal::from(100) {
            return Err(FieldError::new(
                path(),
                format!("percentage `{d}` is above 100"),
            ));
        }
        let scaled = d.mantissa() * 10_i128.pow(6 - d.scale());
        u64::try_from(scaled)
            .map(Percent)
            .map_err(|_| FieldError::new(path(), format!("percentage `{d}` is invalid")))
    }

    pub fn units(self) -> u64 {
        self.0
    }

    /// Adds percentage points, saturating at 100 %.
    pub fn plus_capped(self, other: Percent) -> Percent {
        Percent(self.0.saturating_add(other.0).min(HUNDRED_PERCENT))
    }

    /// Formats as a decimal string without trailing zeros (`12_500_000` → `"12.5"`).
    pub fn format(self) -> String {
        self.digits(&mut [0_u8; 32]).to_string()
    }

    /// The decimal digits without trailing zeros, written into `buf` (no allocation).
    fn digits(self, buf: &mut [u8; 32]) -> &str {
        let s = digits(i64::try_from(self.0).unwrap_or(i64::MAX), 6, buf);
        s.trim_end_matches('0').trim_end_matches('.')
    }
}

/// How an exact quotient becomes whole minor units. `Down` and `Up` are toward and away from
/// zero: for a discount, `Down` gives the shopper less and `Up` gives more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rounding {
    #[default]
    HalfUp,
    HalfEven,
    HalfDown,
    Down,
    Up,
}

/// `num / den` rounded by `mode`, for `num >= 0` and `den > 0`; `None` on bad operands.
/// Inlined natively (a constant divisor folds into a multiplication); not in wasm, where its
/// size counts more.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
pub fn div_round(num: i128, den: i128, mode: Rounding) -> Option<i128> {
    if num < 0 || den <= 0 {
        return None;
    }
    // Most operands fit in 64 bits, where division is several times cheaper.
    if let (Ok(n), Ok(d)) = (u64::try_from(num), u64::try_from(den)) {
        let (q, r) = (n / d, n % d);
        let twice = u128::from(r) * 2;
        let d = u128::from(d);
        let up = match mode {
            Rounding::Down => false,
            Rounding::Up => r > 0,
            Rounding::HalfUp => twice >= d,
            Rounding::HalfDown => twice > d,
            Rounding::HalfEven => twice > d || (twice == d && q % 2 == 1),
        };
        return Some(i128::from(q) + i128::from(up));
    }
    let q = num / den;
    let r = num % den;
    let twice = r.checked_mul(2)?;
    let up = match mode {
        Rounding::Down => false,
        Rounding::Up => r > 0,
        Rounding::HalfUp => twice >= den,
        Rounding::HalfDown => twice > den,
        Rounding::HalfEven => twice > den || (twice == den && q % 2 == 1),
    };
    Some(if up { q + 1 } else { q })
}

/// `amount × percent`, rounded once; `None` if the operands are out of range.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
pub fn percent_of(amount: i64, percent: Percent, mode: Rounding) -> Option<i64> {
    let num = i128::from(amount).checked_mul(i128::from(percent.units()))?;
    div_round(num, i128::from(HUNDRED_PERCENT), mode).and_then(|v| i64::try_from(v).ok())
}

/// `amount × (100 % + rate)`: a net amount grossed up by a tax rate.
pub fn gross_up(net: i64, rate: Percent, mode: Rounding) -> Option<i64> {
    let factor = i128::from(HUNDRED_PERCENT) + i128::from(rate.units());
    let num = i128::from(net).checked_mul(factor)?;
    div_round(num, i128::from(HUNDRED_PERCENT), mode).and_then(|v| i64::try_from(v).ok())
}

/// The net part of a tax-inclusive gross amount: `gross / (100 % + rate)`.
pub fn net_of(gross: i64, rate: Percent, mode: Rounding) -> Option<i64> {
    let factor = i128::from(HUNDRED_PERCENT) + i128::from(rate.units());
    let num = i128::from(gross).checked_mul(i128::from(HUNDRED_PERCENT))?;
    div_round(num, factor, mode).and_then(|v| i64::try_from(v).ok())
}

/// The tax included in a gross amount, `gross × rate / (100 % + rate)`, rounded once (so `Down`
/// rounds the tax toward zero, as everywhere else).
pub fn tax_in(gross: i64, rate: Percent, mode: Rounding) -> Option<i64> {
    let factor = i128::from(HUNDRED_PERCENT) + i128::from(rate.units());
    let num = i128::from(gross).checked_mul(i128::from(rate.units()))?;
    div_round(num, factor, mode).and_then(|v| i64::try_from(v).ok())
}

/// `amount − round(amount × (100 % − percent))`: a percentage off that rounds the price left
/// rather than the discount (never negative).
pub fn percent_off_price(amount: i64, percent: Percent, mode: Rounding) -> Option<i64> {
    let left = HUNDRED_PERCENT.checked_sub(percent.units())?;
    let num = i128::from(amount).checked_mul(i128::from(left))?;
    let price = div_round(num, i128::from(HUNDRED_PERCENT), mode)?;
    i64::try_from((i128::from(amount) - price).max(0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> DecimalString {
        DecimalString::parse(s).unwrap()
    }

    #[test]
    fn decimal_grammar_is_strict() {
        for bad in [
            "", "-1", "1e5", "1_000", " 1", "1.", ".5", "+1", "1.2.3", "0x10",
        ] {
            assert!(DecimalString::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(dec("19.99").0.to_string(), "19.99");
    }

    #[test]
    fn minor_units_per_exponent() {
        let usd = Currency::from_code("USD").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        let kwd = Currency::from_code("KWD").unwrap();
        assert_eq!(usd.to_minor(&dec("19.9"), &|| "p".into()).unwrap(), 1990);
        assert_eq!(jpy.to_minor(&dec("1500"), &|| "p".into()).unwrap(), 1500);
        assert_eq!(kwd.to_minor(&dec("1.005"), &|| "p".into()).unwrap(), 1005);
        assert!(usd.to_minor(&dec("1.999"), &|| "p".into()).is_err());
        assert!(usd
            .to_minor(&dec("99999999999999999999"), &|| "p".into())
            .is_err());
        assert_eq!(kwd.format(1005), "1.005");
        assert_eq!(jpy.format(-15), "-15");
        assert_eq!(usd.format(5), "0.05");
        assert_eq!(usd.format(0), "0.00");
        assert_eq!(usd.format(-100), "-1.00");
        assert_eq!(usd.format(123_456_789), "1234567.89");
        assert_eq!(jpy.format(0), "0");
        assert_eq!(format_minor(i64::MIN, 2), "-92233720368547758.08");
    }

    /// A decimal string serializes as `Decimal` displays it, whichever path writes it.
    #[test]
    fn decimal_strings_serialize_as_displayed() {
        let mut texts: Vec<String> = [
            "0",
            "0.0",
            "0.00",
            "1",
            "1.5",
            "1.50",
            "19.99",
            "100",
            "0.000001",
            "12.500000",
            "9223372036854775807",
            "9223372036854775808",
            "0.000000000000000001",
            "0.0000000000000000001",
            "79228162514264337593543950335",
            "123456789.123456789",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for scale in 0..=20_u32 {
            for v in [1_u64, 7, 10, 99, 12_345, u64::from(u32::MAX), 1 << 62] {
                let d = Decimal::from_i128_with_scale(i128::from(v), scale);
                texts.push(d.to_string());
            }
        }
        let negative_zero = DecimalString(-Decimal::ZERO);
        assert_eq!(
            serde_json::to_string(&negative_zero).unwrap(),
            format!("\"{}\"", negative_zero.0)
        );
        let mut checked = 0;
        for t in texts {
            let Ok(d) = DecimalString::parse(&t) else {
                continue;
            };
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.0), "{t}");
            checked += 1;
        }
        assert!(checked > 150, "{checked} decimals checked");
    }

    /// The digits, written two at a time, against the plain definition: every exponent a
    /// currency or a percentage uses, around every power of ten and at the ends of `i64`.
    #[test]
    fn digits_match_the_plain_definition() {
        let plain = |minor: i64, exponent: u32| {
            let scale = 10_u128.pow(exponent);
            let abs = u128::from(minor.unsigned_abs());
            let sign = if minor < 0 { "-" } else { "" };
            let width = exponent as usize;
            match exponent {
                0 => format!("{sign}{abs}"),
                _ => format!("{sign}{}.{:0width$}", abs / scale, abs % scale),
            }
        };
        let mut values = vec![0, 1, -1, i64::MAX, i64::MIN, i64::MIN + 1];
        for p in 0..19 {
            let t = 10_i64.pow(p);
            for v in [t - 1, t, t + 1, 7 * t + 3] {
                values.extend([v, -v]);
            }
        }
        values.extend((0..2_000).map(|v| v * 37 - 1_000));
        for exponent in 0..=6 {
            for &v in &values {
                let mut buf = [0_u8; 32];
                assert_eq!(
                    digits(v, exponent, &mut buf),
                    plain(v, exponent),
                    "{v} {exponent}"
                );
            }
        }
    }

    #[test]
    fn rounding_modes() {
        use Rounding::*;
        let cases = [
            (25, 10, [3, 2, 2, 2, 3]),
            (35, 10, [4, 4, 3, 3, 4]),
            (31, 10, [3, 3, 3, 3, 4]),
            (30, 10, [3, 3, 3, 3, 3]),
        ];
        for (n, d, expected) in cases {
            let got = [HalfUp, HalfEven, HalfDown, Down, Up].map(|m| div_round(n, d, m).unwrap());
            assert_eq!(got, expected, "{n}/{d}");
        }
    }

    #[test]
    fn percent_parse_and_format() {
        let p = Percent::from_decimal(&dec("12.5"), &|| "p".into()).unwrap();
        assert_eq!(p.units(), 12_500_000);
        assert_eq!(p.format(), "12.5");
        assert!(Percent::from_decimal(&dec("100.1"), &|| "p".into()).is_err());
        assert!(Percent::from_decimal(&dec("1.0000001"), &|| "p".into()).is_err());
        assert_eq!(percent_of(1999, p, Rounding::HalfUp), Some(250));
        let twenty = Percent(20 * PERCENT_UNIT);
        assert_eq!(tax_in(1200, twenty, Rounding::HalfUp), Some(200));
        // 19.99 includes 3.3316… of tax at 20 %: `Down` rounds the tax itself toward zero.
        assert_eq!(tax_in(1999, twenty, Rounding::Down), Some(333));
        assert_eq!(tax_in(1999, twenty, Rounding::Up), Some(334));
        // 50 % off 1.05 leaves 0.525: rounding the price half up leaves 0.53, so 0.52 off.
        let half = Percent(50 * PERCENT_UNIT);
        assert_eq!(percent_off_price(105, half, Rounding::HalfUp), Some(52));
        assert_eq!(percent_of(105, half, Rounding::HalfUp), Some(53));
        assert_eq!(
            gross_up(1000, Percent(20 * PERCENT_UNIT), Rounding::HalfUp),
            Some(1200)
        );
    }

    #[test]
    fn percents_print_their_exact_decimal_without_trailing_zeros() {
        for (units, text) in [
            (0, "0"),
            (1, "0.000001"),
            (10, "0.00001"),
            (500_000, "0.5"),
            (PERCENT_UNIT, "1"),
            (10 * PERCENT_UNIT, "10"),
            (8_875_000, "8.875"),
            (12_345_678, "12.345678"),
            (99_999_999, "99.999999"),
            (HUNDRED_PERCENT, "100"),
        ] {
            assert_eq!(Percent(units).format(), text);
            assert_eq!(
                serde_json::to_string(&Percent(units)).unwrap(),
                format!("\"{text}\"")
            );
            // What it prints reads back as the same percentage.
            let back = Percent::from_decimal(&dec(text), &|| "p".into()).unwrap();
            assert_eq!(back, Percent(units));
        }
    }
}
