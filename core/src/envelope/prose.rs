//! Waits written in prose: "Try again in 12s.", "Please retry after 22 seconds", "retry after 8".
//!
//! Strict on purpose: a wait is read only right after one of a few phrases that ask the caller
//! to come back ([`PHRASES`]), and only when a number follows at once. Better no wait than an
//! invented one: "try again later", "retry in a few minutes", "completed in 5 seconds", or
//! "try again in 2023" followed by a letter give nothing.
//!
//! After the phrase: one or more `NUMBER UNIT` parts (`1m12.5s`, `2 hours 30 minutes`), where
//! the unit is `ms`/`millisecond(s)`, `s`/`sec(s)`/`second(s)`, `m`/`min(s)`/`minute(s)` or
//! `h`/`hr(s)`/`hour(s)`. Only "retry after" / "retry-after" may leave the unit out (Telegram's
//! "retry after 35"): the number is then seconds, and must end the sentence or the text.

use std::time::Duration;

/// Phrases after which a wait may follow, lowercase. Each must be followed by a space.
const PHRASES: [(&str, bool); 7] = [
    // (phrase, a bare number means seconds)
    ("try again in", false),
    ("try again after", false),
    ("retry in", false),
    ("retry after", true),
    ("retry-after:", true),
    ("retry-after", true),
    ("wait for", false),
];

/// The longest wait prose may ask for: a day. Longer is a quota reset, not a retry.
const MAX_PROSE_WAIT: Duration = Duration::from_secs(86_400);

/// The wait a message asks for, when it says so in one of the strict phrases.
pub(super) fn wait(text: &str) -> Option<Duration> {
    let b = text.as_bytes();
    // Cheap gate: every phrase has "r" then "y" or "ait"; most messages have neither "retry"
    // nor "again" nor "wait". One pass: only an `r`, `a` or `w` (`| 0x20` folds the case of an
    // ASCII letter) starts a comparison.
    let at = |i: usize, needle: &[u8]| {
        b.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    };
    let gate = b.iter().enumerate().any(|(i, &c)| match c | 0x20 {
        b'r' => at(i, b"retry"),
        b'a' => at(i, b"again"),
        b'w' => at(i, b"wait for"),
        _ => false,
    });
    if !gate {
        return None;
    }
    let mut i = 0;
    while i < b.len() {
        // Every phrase starts with `t`, `r` or `w`; only the phrases that start with this
        // (case-folded) letter are tried.
        let lead = b.get(i).map_or(0, |c| c | 0x20);
        if !matches!(lead, b't' | b'r' | b'w') {
            i += 1;
            continue;
        }
        for &(phrase, bare_secs) in &PHRASES {
            let p = phrase.as_bytes();
            if p.first() != Some(&lead) {
                continue;
            }
            let Some(w) = b.get(i..i + p.len()) else {
                continue;
            };
            if !w.eq_ignore_ascii_case(p) {
                continue;
            }
            // A word boundary before the phrase ("pretry in" is not "retry in").
            if i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_alphanumeric) {
                continue;
            }
            let rest = b.get(i + p.len()..).unwrap_or_default();
            let rest = match rest.first() {
                Some(b' ') => rest.get(1..).unwrap_or_default(),
                _ => continue,
            };
            if let Some(d) = duration(rest, bare_secs) {
                return (d <= MAX_PROSE_WAIT).then_some(d);
            }
        }
        i += 1;
    }
    None
}

/// `NUMBER UNIT [NUMBER UNIT ...]` at the start of `s`.
fn duration(s: &[u8], bare_secs: bool) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut pos = 0;
    let mut parts = 0;
    loop {
        let (value, num_end) = number(s, pos)?;
        let mut p = num_end;
        // At most one space between a number and its unit.
        let spaced = s.get(p) == Some(&b' ');
        if spaced {
            p += 1;
        }
        match unit(s, p) {
            Some((unit_nanos, end)) => {
                let add = super::duration_of(value.0, value.1, unit_nanos)?;
                total = total.checked_add(add)?;
                parts += 1;
                pos = end;
                // Another part may follow: "1m12s", "2 hours 30 minutes", "1 minute and 5 seconds".
                let mut q = pos;
                if s.get(q) == Some(&b' ') {
                    q += 1;
                }
                if s.get(q..q + 4)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"and "))
                {
                    q += 4;
                }
                if s.get(q).is_some_and(u8::is_ascii_digit) {
                    pos = q;
                    continue;
                }
                return Some(total);
            }
            None if parts == 0 && bare_secs => {
                // No unit: seconds, when the number ends the sentence or the text.
                let after = s.get(num_end).copied();
                let ends = match after {
                    None => true,
                    Some(b'.' | b',' | b';' | b'!' | b')' | b'\n' | b'\r') => true,
                    Some(b' ') => !s.get(num_end + 1).is_some_and(u8::is_ascii_alphanumeric),
                    _ => false,
                };
                return if ends {
                    super::duration_of(value.0, value.1, 1_000_000_000)
                } else {
                    None
                };
            }
            None => return if parts > 0 { Some(total) } else { None },
        }
    }
}

/// A decimal number at `pos`: its whole part (at most 10^12), its fraction in billionths, and
/// where it ends.
fn number(s: &[u8], pos: usize) -> Option<((u64, u64), usize)> {
    let mut p = pos;
    let mut int: u64 = 0;
    while let Some(d) = s.get(p).filter(|c| c.is_ascii_digit()) {
        int = int.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if int > 1_000_000_000_000 {
            return None;
        }
        p += 1;
    }
    if p == pos {
        return None;
    }
    let mut frac: u64 = 0;
    let mut scale: u64 = 1_000_000_000;
    if s.get(p) == Some(&b'.') && s.get(p + 1).is_some_and(u8::is_ascii_digit) {
        p += 1;
        while let Some(d) = s.get(p).filter(|c| c.is_ascii_digit()) {
            if scale > 1 {
                scale /= 10;
                frac += u64::from(d - b'0') * scale;
            }
            p += 1;
        }
    }
    Some(((int, frac), p))
}

/// A unit word at `pos`, not followed by a letter: its length in nanoseconds and its end.
fn unit(s: &[u8], pos: usize) -> Option<(u64, usize)> {
    const UNITS: [(&str, u64); 16] = [
        ("milliseconds", 1_000_000),
        ("millisecond", 1_000_000),
        ("ms", 1_000_000),
        ("seconds", 1_000_000_000),
        ("second", 1_000_000_000),
        ("secs", 1_000_000_000),
        ("sec", 1_000_000_000),
        ("s", 1_000_000_000),
        ("minutes", 60_000_000_000),
        ("minute", 60_000_000_000),
        ("mins", 60_000_000_000),
        ("min", 60_000_000_000),
        ("m", 60_000_000_000),
        ("hours", 3_600_000_000_000),
        ("hour", 3_600_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    for (word, nanos) in UNITS {
        let w = word.as_bytes();
        let end = pos + w.len();
        if s.get(pos..end).is_some_and(|x| x.eq_ignore_ascii_case(w))
            && !s.get(end).is_some_and(u8::is_ascii_alphabetic)
        {
            return Some((nanos, end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Option<u128> {
        wait(s).map(|d| d.as_millis())
    }

    #[test]
    fn phrases_with_units() {
        assert_eq!(ms("Rate limit exceeded. Try again in 12s."), Some(12_000));
        assert_eq!(ms("Please retry after 22 seconds."), Some(22_000));
        assert_eq!(ms("Too Many Requests: retry after 8"), Some(8_000));
        assert_eq!(ms("Please try again in 1m12.5s. Visit"), Some(72_500));
        assert_eq!(ms("Please try again in 6ms."), Some(6));
        assert_eq!(ms("Please retry in 53.372318178s."), Some(53_372));
        assert_eq!(ms("try again in 2 hours 30 minutes"), Some(9_000_000));
        assert_eq!(ms("Try again in 1 minute and 5 seconds"), Some(65_000));
        assert_eq!(ms("retry after 35, please"), Some(35_000));
    }

    #[test]
    fn no_invented_waits() {
        for s in [
            "Try again later.",
            "Please retry in a few minutes",
            "Completed in 5 seconds",
            "retry after 2023-01-01",
            "retry after 12:00 UTC",
            "try again in 5",
            "retry after 8 attempts",
            "Retry in 3 steps",
            "wait 5s",
            "pretry in 5s",
            "try again in 99999999999999999999s",
            "try again in 2 days",
            "retry after 100000 hours",
            "",
        ] {
            assert_eq!(wait(s), None, "{s}");
        }
    }
}
