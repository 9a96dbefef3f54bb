//! HTTP-date (RFC 9110 §5.6.7) without allocation: IMF-fixdate, the obsolete RFC 850 form and
//! asctime, into Unix seconds.
//!
//! Lenient where servers are known to stray, strict where a wrong answer would be worse than
//! none:
//! - Day, month and zone names are case-insensitive; spaces and tabs may be repeated, and the
//!   space after the weekday's comma may be missing.
//! - The weekday must be a real weekday name, short (`Sun`) or long (`Sunday`) in any form, but
//!   it is **not** checked against the date: `Mon, 06 Nov 1994 …` is read as 6 Nov 1994. The
//!   date and time are what the server means; a wrong weekday is a cosmetic server bug. The
//!   weekday may also be left out (`06 Nov 1994 08:49:37 GMT`).
//! - The day may have one or two digits in every form; hour, minute and second have two.
//! - The zone must be `GMT` (or `UTC`): any other zone is refused rather than guessed.
//! - The calendar is checked: month 1–12, day within the month (leap years by the Gregorian
//!   rule), hour 0–23, minute 0–59, second 0–60 (a leap second counts as the next minute's
//!   first second).
//! - A two-digit RFC 850 year is resolved by the caller (see [`TwoDigitYear`]); a four-digit
//!   year is accepted in the RFC 850 form too.

/// How to turn a two-digit RFC 850 year into a full year: RFC 9110 §5.6.7 relative to a "now",
/// the year with those last two digits in the window `(now - 50, now + 50]`, so a year that
/// would be more than 50 years in the future is taken from the past century.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TwoDigitYear {
    /// Relative to this full year.
    Around(i64),
    /// Relative to the year of this Unix time in milliseconds (computed only when needed).
    AroundUnixMs(i64),
}

impl TwoDigitYear {
    fn resolve(self, yy: u32) -> i64 {
        let now = match self {
            TwoDigitYear::Around(year) => year,
            TwoDigitYear::AroundUnixMs(ms) => year_of_unix_ms(ms),
        };
        let yy = i64::from(yy);
        // The year >= now ending in `yy`, then one century back if it is too far ahead.
        let ahead = (yy - now).rem_euclid(100);
        let year = now + ahead;
        if ahead > 50 {
            year - 100
        } else {
            year
        }
    }
}

/// Parse an HTTP-date into Unix seconds, or `None` if it is not one.
pub(crate) fn parse(value: &str, two_digit: TwoDigitYear) -> Option<i64> {
    let mut c = Cursor::new(value.trim_ascii());
    let first = c.peek()?;
    if first.is_ascii_digit() {
        // No weekday: `06 Nov 1994 08:49:37 GMT` or `06-Nov-94 08:49:37 GMT`.
        return after_comma(&mut c, two_digit);
    }
    let weekday = c.alpha();
    if !is_weekday(weekday) {
        return None;
    }
    if c.eat(b',') {
        c.spaces();
        after_comma(&mut c, two_digit)
    } else if c.spaces() > 0 {
        asctime(&mut c)
    } else {
        None
    }
}

/// `DD Mon YYYY HH:MM:SS GMT` (IMF-fixdate) or `DD-Mon-YY HH:MM:SS GMT` (RFC 850).
fn after_comma(c: &mut Cursor<'_>, two_digit: TwoDigitYear) -> Option<i64> {
    let (day, _) = c.digits(1, 2)?;
    let (month, year) = if c.eat(b'-') {
        let month = month_number(c.alpha())?;
        if !c.eat(b'-') {
            return None;
        }
        let (y, n) = c.digits(2, 4)?;
        let year = match n {
            2 => two_digit.resolve(y),
            4 => i64::from(y),
            _ => return None,
        };
        (month, year)
    } else {
        if c.spaces() == 0 {
            return None;
        }
        let month = month_number(c.alpha())?;
        if c.spaces() == 0 {
            return None;
        }
        let (y, _) = c.digits(4, 4)?;
        (month, i64::from(y))
    };
    if c.spaces() == 0 {
        return None;
    }
    let secs = time_of_day(c)?;
    if c.spaces() == 0 {
        return None;
    }
    let zone = c.alpha();
    if !(zone.eq_ignore_ascii_case(b"GMT") || zone.eq_ignore_ascii_case(b"UTC")) {
        return None;
    }
    c.spaces();
    if !c.at_end() {
        return None;
    }
    to_unix(year, month, day, secs)
}

/// `Mon DD HH:MM:SS YYYY` (asctime; the weekday is already read).
fn asctime(c: &mut Cursor<'_>) -> Option<i64> {
    let month = month_number(c.alpha())?;
    if c.spaces() == 0 {
        return None;
    }
    let (day, _) = c.digits(1, 2)?;
    if c.spaces() == 0 {
        return None;
    }
    let secs = time_of_day(c)?;
    if c.spaces() == 0 {
        return None;
    }
    let (year, _) = c.digits(4, 4)?;
    c.spaces();
    if !c.at_end() {
        return None;
    }
    to_unix(i64::from(year), month, day, secs)
}

/// `HH:MM:SS` → seconds into the day (up to 86 400 for a leap second at 23:59:60).
fn time_of_day(c: &mut Cursor<'_>) -> Option<i64> {
    let (h, _) = c.digits(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let (m, _) = c.digits(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let (s, _) = c.digits(2, 2)?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

fn to_unix(year: i64, month: u32, day: u32, secs: i64) -> Option<i64> {
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + secs)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both stay small (1..=31, 1..=12), so the conversions cannot fail.
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    // March-based years: January and February belong to the next civil year.
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The Gregorian year of a Unix time in milliseconds.
pub(crate) fn year_of_unix_ms(unix_ms: i64) -> i64 {
    civil_from_days(unix_ms.div_euclid(86_400_000)).0
}

/// Three ASCII letters, lowercased, packed into one number (`None` for any other length). Only
/// runs of letters are passed in, so `| 0x20` lowercases and cannot make a non-letter match.
fn key3(name: &[u8]) -> Option<u32> {
    match name {
        [a, b, c] => Some(u32::from_be_bytes([0, a | 0x20, b | 0x20, c | 0x20])),
        _ => None,
    }
}

const fn lit3(s: &[u8; 3]) -> u32 {
    let [a, b, c] = *s;
    u32::from_be_bytes([0, a, b, c])
}

const MON: u32 = lit3(b"mon");
const TUE: u32 = lit3(b"tue");
const WED: u32 = lit3(b"wed");
const THU: u32 = lit3(b"thu");
const FRI: u32 = lit3(b"fri");
const SAT: u32 = lit3(b"sat");
const SUN: u32 = lit3(b"sun");
const JAN: u32 = lit3(b"jan");
const FEB: u32 = lit3(b"feb");
const MAR: u32 = lit3(b"mar");
const APR: u32 = lit3(b"apr");
const MAY: u32 = lit3(b"may");
const JUN: u32 = lit3(b"jun");
const JUL: u32 = lit3(b"jul");
const AUG: u32 = lit3(b"aug");
const SEP: u32 = lit3(b"sep");
const OCT: u32 = lit3(b"oct");
const NOV: u32 = lit3(b"nov");
const DEC: u32 = lit3(b"dec");

/// A weekday name, short (`Sun`) or long (`Sunday`), any case.
fn is_weekday(name: &[u8]) -> bool {
    let (head, tail) = name.split_at_checked(3).unwrap_or((name, &[]));
    let rest: &[u8] = match key3(head) {
        Some(MON) => b"day",
        Some(TUE) => b"sday",
        Some(WED) => b"nesday",
        Some(THU) => b"rsday",
        Some(FRI) => b"day",
        Some(SAT) => b"urday",
        Some(SUN) => b"day",
        _ => return false,
    };
    tail.is_empty() || tail.eq_ignore_ascii_case(rest)
}

fn month_number(name: &[u8]) -> Option<u32> {
    let k = key3(name)?;
    Some(match k {
        JAN => 1,
        FEB => 2,
        MAR => 3,
        APR => 4,
        MAY => 5,
        JUN => 6,
        JUL => 7,
        AUG => 8,
        SEP => 9,
        OCT => 10,
        NOV => 11,
        DEC => 12,
        _ => return None,
    })
}

/// A byte cursor that never indexes out of bounds.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            b: s.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn eat(&mut self, want: u8) -> bool {
        if self.peek() == Some(want) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Skip spaces and tabs; how many.
    fn spaces(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    /// A run of ASCII letters (possibly empty).
    fn alpha(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        self.b.get(start..self.i).unwrap_or(&[])
    }

    /// Between `min` and `max` ASCII digits (`max` <= 9): the value and how many digits. A
    /// longer run of digits is refused.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.i;
        let mut v = 0u32;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start == max {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
            self.i += 1;
        }
        let n = self.i - start;
        (n >= min).then_some((v, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AROUND_2025: TwoDigitYear = TwoDigitYear::Around(2025);

    #[test]
    fn three_forms_agree() {
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun Nov 06 08:49:37 1994",
            "sun, 06 nov 1994 08:49:37 gmt",
            "06 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "  Sun,  06 Nov 1994 08:49:37 GMT ",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun,06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse(s, AROUND_2025), Some(784_111_777), "{s}");
        }
    }

    #[test]
    fn refuses() {
        for s in [
            "",
            "Sun",
            "Sun,",
            "Sux, 06 Nov 1994 08:49:37 GMT",
            "Sun, 30 Feb 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:60:37 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 GMT x",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Xyz 1994 08:49:37 GMT",
            "Sun, 006 Nov 1994 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov  6 08:49:37 1994 GMT",
            "Sunday, 06-Nov-994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "2025-11-22T08:26:40Z",
        ] {
            assert_eq!(parse(s, AROUND_2025), None, "{s}");
        }
    }

    #[test]
    fn leap_days_and_seconds() {
        assert_eq!(
            parse("Thu, 29 Feb 2024 00:00:00 GMT", AROUND_2025),
            Some(1_709_164_800)
        );
        assert_eq!(
            parse("Tue, 29 Feb 2000 00:00:00 GMT", AROUND_2025),
            Some(951_782_400)
        );
        assert_eq!(
            parse("Sat, 31 Dec 2016 23:59:60 GMT", AROUND_2025),
            Some(1_483_228_800)
        );
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT", AROUND_2025), Some(0));
        assert_eq!(
            parse("Wed, 31 Dec 1969 23:59:59 GMT", AROUND_2025),
            Some(-1)
        );
    }

    #[test]
    fn two_digit_years() {
        let r = |yy, now| TwoDigitYear::Around(now).resolve(yy);
        assert_eq!(r(94, 2025), 1994);
        assert_eq!(r(25, 2025), 2025);
        assert_eq!(r(75, 2025), 2075);
        assert_eq!(r(76, 2025), 1976);
        assert_eq!(r(10, 2080), 2110);
        assert_eq!(r(0, 1999), 2000);
        assert_eq!(r(49, 1999), 2049);
        assert_eq!(r(50, 1999), 1950);
    }

    #[test]
    fn years_of_unix_ms() {
        assert_eq!(year_of_unix_ms(0), 1970);
        assert_eq!(year_of_unix_ms(-1), 1969);
        assert_eq!(year_of_unix_ms(1_763_800_000_000), 2025);
        assert_eq!(year_of_unix_ms(1_704_067_199_999), 2023);
        assert_eq!(year_of_unix_ms(1_704_067_200_000), 2024);
        assert_eq!(year_of_unix_ms(1_709_164_800_000), 2024);
        let _ = year_of_unix_ms(i64::MIN);
        let _ = year_of_unix_ms(i64::MAX);
        for y in [1600i64, 1900, 1999, 2000, 2024, 2100, 9999] {
            for m in 1..=12 {
                let ms = days_from_civil(y, m, 1) * 86_400_000;
                assert_eq!(year_of_unix_ms(ms), y);
                assert_eq!(year_of_unix_ms(ms - 1), if m == 1 { y - 1 } else { y });
            }
        }
    }
}
