//! Decimal text → `f64`, exactly as `str::parse::<f64>` reads it (the same grammar, the same
//! correctly rounded result, bit for bit), without std's tables.
//!
//! Why: std's parser (Eisel–Lemire) carries a 11 KB table of 128-bit powers of five that does
//! not compress, and with its code it was ~18 KB raw, ~14 KB gzipped of the wasm module a
//! browser loads, for the few numbers an error body holds. Here: the exact one-operation path
//! (Clinger) for the common short numbers, and an exact big-integer comparison otherwise.

use std::cmp::Ordering;

/// `s.parse::<f64>().ok()`, computed without std's tables.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let v = if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if rest.eq_ignore_ascii_case(b"nan") {
        f64::NAN
    } else {
        let (digits, exp10) = decimal(rest)?;
        value(&digits, exp10)
    };
    Some(if negative { -v } else { v })
}

/// Significant digits kept; beyond them a nonzero digit is kept as a sticky 1. A halfway point
/// between two doubles has at most 767 significant digits, so this decides every rounding.
const MAX_DIGITS: usize = 800;

/// `Digit+ ('.' Digit*)? | '.' Digit+`, then `[eE] [+-]? Digit+` optionally: the significant
/// digits (values 0–9, no leading zeros) and the power of ten they are scaled by.
fn decimal(b: &[u8]) -> Option<(Vec<u8>, i64)> {
    let mut digits: Vec<u8> = Vec::new();
    let mut exp10: i64 = 0;
    let mut sticky = false;
    let mut seen = false;
    let mut i = 0;
    let mut point = false;
    while i < b.len() {
        let c = b[i];
        if c == b'.' && !point {
            point = true;
        } else if c.is_ascii_digit() {
            seen = true;
            let d = c - b'0';
            if digits.is_empty() && d == 0 {
                // A leading zero: only a fraction's moves the point.
                if point {
                    exp10 -= 1;
                }
            } else if digits.len() < MAX_DIGITS {
                digits.push(d);
                if point {
                    exp10 -= 1;
                }
            } else {
                sticky |= d != 0;
                if !point {
                    exp10 += 1;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if i < b.len() {
        if !matches!(b[i], b'e' | b'E') {
            return None;
        }
        i += 1;
        let negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        if i >= b.len() {
            return None;
        }
        let mut e: i64 = 0;
        for &c in &b[i..] {
            if !c.is_ascii_digit() {
                return None;
            }
            // Saturates far beyond any finite or nonzero result.
            e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
        }
        exp10 += if negative { -e } else { e };
    }
    if sticky {
        digits.push(1);
        exp10 -= 1;
    }
    Some((digits, exp10))
}

/// The double nearest `digits × 10^exp10` (ties to even).
fn value(digits: &[u8], exp10: i64) -> f64 {
    if digits.is_empty() {
        return 0.0;
    }
    let n = digits.len() as i64;
    // The value is in [10^(n-1+exp10), 10^(n+exp10)).
    if n + exp10 > 310 {
        return f64::INFINITY;
    }
    if n + exp10 < -343 {
        return 0.0;
    }
    let lead = digits.len().min(19);
    let w = digits[..lead]
        .iter()
        .fold(0u64, |w, &d| w * 10 + u64::from(d));
    // Clinger: the digits and the power of ten are exact doubles, one operation rounds once.
    if digits.len() <= 15 && (-22..=22).contains(&exp10) {
        let p = POW10[exp10.unsigned_abs() as usize];
        return if exp10 >= 0 {
            w as f64 * p
        } else {
            w as f64 / p
        };
    }
    // A guess a few ulps off, then exact comparisons with the halfway points around it.
    let e = (exp10 + (digits.len() - lead) as i64) as i32;
    let guess = w as f64 * 10f64.powi(e / 2) * 10f64.powi(e - e / 2);
    let mut b = if guess.is_finite() { guess } else { f64::MAX };
    let exact = Exact::new(digits, exp10);
    // Down while the value is below the halfway point under `b`.
    while b > 0.0 {
        let prev = f64::from_bits(b.to_bits() - 1);
        match exact.cmp_half_above(prev) {
            Ordering::Less => b = prev,
            // A tie: the even one.
            Ordering::Equal => return if b.to_bits() & 1 == 1 { prev } else { b },
            Ordering::Greater => break,
        }
    }
    // Up while the value is above the halfway point over `b`.
    loop {
        let odd = b.to_bits() & 1 == 1;
        match exact.cmp_half_above(b) {
            Ordering::Less => return b,
            Ordering::Equal if !odd => return b,
            ord => {
                if b == f64::MAX {
                    return f64::INFINITY;
                }
                b = f64::from_bits(b.to_bits() + 1);
                if ord == Ordering::Equal {
                    return b;
                }
            }
        }
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `digits × 10^exp10` as a ratio of big integers `num / den` (one of the two powers is 1).
struct Exact {
    num: Big,
    den: Big,
}

impl Exact {
    fn new(digits: &[u8], exp10: i64) -> Self {
        let mut num = Big(Vec::new());
        for chunk in digits.chunks(19) {
            let v = chunk.iter().fold(0u64, |v, &d| v * 10 + u64::from(d));
            num.mul_add(10u64.pow(chunk.len() as u32), v);
        }
        let mut den = Big(vec![1]);
        if exp10 >= 0 {
            num.mul_pow10(exp10 as u64);
        } else {
            den.mul_pow10(exp10.unsigned_abs());
        }
        Exact { num, den }
    }

    /// The value against the point halfway between `x` (finite, ≥ 0) and the next double up.
    fn cmp_half_above(&self, x: f64) -> Ordering {
        let bits = x.to_bits();
        let field = (bits >> 52) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (m, q) = if field == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), field - 1075)
        };
        // (2m + 1) × 2^(q-1), against num / den: num × 2^-(q-1) vs (2m+1) × den × 2^(q-1).
        let mut left = self.num.clone();
        let mut right = self.den.clone();
        right.mul_add(2 * m + 1, 0);
        let t = q - 1;
        if t >= 0 {
            right.shl(t as u64);
        } else {
            left.shl(t.unsigned_abs());
        }
        left.cmp(&right)
    }
}

/// A non-negative big integer, little-endian 64-bit limbs, no high zero limbs.
#[derive(Clone)]
struct Big(Vec<u64>);

impl Big {
    /// `self × m + a`.
    fn mul_add(&mut self, m: u64, a: u64) {
        let mut carry = u128::from(a);
        for limb in &mut self.0 {
            let v = u128::from(*limb) * u128::from(m) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry > 0 {
            self.0.push(carry as u64);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut e: u64) {
        while e >= 19 {
            self.mul_add(10u64.pow(19), 0);
            e -= 19;
        }
        self.mul_add(10u64.pow(e as u32), 0);
    }

    fn shl(&mut self, bits: u64) {
        let (limbs, bits) = ((bits / 64) as usize, (bits % 64) as u32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let v = *limb;
                *limb = (v << bits) | carry;
                carry = v >> (64 - bits);
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        if !self.0.is_empty() {
            self.0.splice(0..0, std::iter::repeat(0).take(limbs));
        }
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(s: &str) {
        let want = s.parse::<f64>().ok().map(f64::to_bits);
        let got = parse_f64(s).map(f64::to_bits);
        assert_eq!(got, want, "{s:?}");
    }

    #[test]
    fn reads_as_std_reads() {
        let cases = [
            "", "+", "-", ".", "e5", "1e", "1e+", "1e-", "-.e1", "1.e5", ".5", "1.", "+.5e-3",
            "0", "-0", "+0", "0.0", "00", "000.000", "0e999999999999999999999", "1", "-1",
            "1e5", "1E5", "1e+5", "1e-5", "12.5e2", "1_0", " 1", "1 ", "1e5 ", "0x10", "1..2",
            "1.2.3", "1e5e5", "inf", "-inf", "+inf", "INF", "Infinity", "-infinity", "infinit",
            "infx", "nan", "NaN", "-nan", "+NAN", "nanx", "0.1", "0.2", "0.3", "1e23", "8.589973e9",
            "9007199254740993", "9007199254740995", "9007199254740992.5", "18014398509481985",
            "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
            "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
            "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
            "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125001e-324",
            "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
            "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792",
            "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
            "1e308", "1e309", "1e-320", "1e-400", "1e99999999999999999999", "1e-99999999999999999999",
            "0.000000000000000000000000000000000000001e39", "123456789012345678901234567890",
            "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124",
            "1.00000000000000011102230246251565404236316680908203126",
            "7.3177701707893310e+15", "3.0", "2.5", "1.5e-1", "123.456", "1e22", "1e-22",
            "123456789012345.6e10", "9999999999999999", "99999999999999999999e-5",
        ];
        for s in cases {
            same(s);
        }
        same(&format!("1{}", "0".repeat(900)));
        same(&format!("0.{}1", "0".repeat(330)));
        same(&format!("{}e-1000", "9".repeat(1200)));
        same(&format!("1.{}1e0", "0".repeat(900)));
    }

    /// The decimal halfway between `x` and the next double up, from their exact expansions.
    fn halfway(x: f64) -> String {
        let a = format!("{:.1100e}", x);
        let b = format!("{:.1100e}", f64::from_bits(x.to_bits() + 1));
        // Same exponent for both (they are adjacent): add the digit strings and halve.
        let (ma, ea) = a.split_once('e').unwrap();
        let (mb, eb) = b.split_once('e').unwrap();
        let (ea, eb): (i64, i64) = (ea.parse().unwrap(), eb.parse().unwrap());
        let digits = |m: &str, shift: i64| -> Vec<u32> {
            let mut d: Vec<u32> = m.chars().filter_map(|c| c.to_digit(10)).collect();
            for _ in 0..shift {
                d.insert(0, 0);
                d.pop();
            }
            d
        };
        let top = ea.max(eb);
        let (da, db) = (digits(ma, top - ea), digits(mb, top - eb));
        let mut sum = vec![0u32; da.len() + 1];
        let mut carry = 0;
        for i in (0..da.len()).rev() {
            let v = da[i] + db[i] + carry;
            sum[i + 1] = v % 10;
            carry = v / 10;
        }
        sum[0] = carry;
        let mut half = Vec::new();
        let mut rem = 0;
        for d in sum {
            let v = rem * 10 + d;
            half.push(v / 2);
            rem = v % 2;
        }
        half.push(rem * 5);
        let text: String = half.iter().map(|d| char::from(b'0' + *d as u8)).collect();
        // `sum` has two digits before the point (the carry, then the leading digits): so has
        // `half`.
        format!("{}.{}e{}", &text[..2], &text[2..], top)
    }

    #[test]
    fn ties_go_to_even() {
        for x in [
            1.0,
            0.1,
            1e23,
            f64::MIN_POSITIVE,
            5e-324,
            1e-310,
            1.7976931348623155e308,
            9007199254740992.0,
            2.0f64.powi(-1022) - 5e-324,
            123.456,
        ] {
            let h = halfway(x);
            same(&h);
            let next = f64::from_bits(x.to_bits() + 1);
            let even = if x.to_bits() & 1 == 0 { x } else { next };
            assert_eq!(parse_f64(&h), Some(even), "{h}");
            // Just above and just below the halfway point.
            let above = format!(
                "{}1{}",
                &h[..h.find('e').unwrap()],
                &h[h.find('e').unwrap()..]
            );
            same(&above);
            assert_eq!(parse_f64(&above), Some(next), "{above}");
            let below = {
                let e = h.find('e').unwrap();
                let mut m: Vec<u8> = h[..e].bytes().collect();
                let last = m.iter().rposition(|c| *c != b'0' && *c != b'.').unwrap();
                m[last] -= 1;
                for c in &mut m[last + 1..] {
                    if *c == b'0' {
                        *c = b'9';
                    }
                }
                format!("{}9{}", String::from_utf8(m).unwrap(), &h[e..])
            };
            same(&below);
            assert_eq!(parse_f64(&below), Some(x), "{below}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn any_double_printed_reads_back(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            same(&format!("{x}"));
            same(&format!("{x:e}"));
            same(&format!("{x:.20e}"));
            same(&format!("{x:.3e}"));
            if x.is_finite() && x > 0.0 && x < f64::MAX {
                same(&halfway(x));
            }
        }

        #[test]
        fn any_decimal_text(
            int in "[0-9]{0,25}",
            frac in proptest::option::of("[0-9]{0,25}"),
            exp in proptest::option::of(-400i32..400),
            sign in "[+-]?",
            big in any::<bool>(),
        ) {
            let mut s = format!("{sign}{int}");
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{}", if big { e * 1000 } else { e }));
            }
            same(&s);
        }

        #[test]
        fn any_text(s in "[0-9eE.+\\-a-zA-Z]{0,12}") {
            same(&s);
        }
    }
}
