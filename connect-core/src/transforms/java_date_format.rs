//! Java `SimpleDateFormat` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`), as Kafka's
//! `TimestampConverter` and `TimestampRouter` take them, translated to chrono items.
//! Dates are formatted and parsed in UTC, as those transforms do.
//!
//! Supported letters: `G` (always `AD`), `y` (1 to 4), `M`/`L`, `d`, `D` (1 or 3), `E`,
//! `u`, `a`, `H`, `h`, `m`, `s`, `SSS`, `z` (always `UTC`), `Z`, `X`/`XX`/`XXX`; quoted
//! literals (`'T'`, `''` for a quote). Valid Java letters chrono has no equivalent for
//! (`Y`, `w`, `W`, `F`, `k`, `K`, other counts) are rejected with a message saying so.
//!
//! Parsing differs from Java's lenient default in being strict: `2024-13-45` is an error
//! rather than a date in 2025. Like Java's `DateFormat.parse(String)`, text after the
//! pattern is ignored, and fields the pattern lacks take Java's defaults (1970-01-01,
//! midnight, UTC).
//!
//! Also here: the schemas of Connect's temporal logical types, which the transforms that
//! produce dates share.

use std::fmt::Write as _;

use chrono::format::{self, Fixed, Item, Numeric, Pad, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, Utc};

use crate::data::{Schema, SchemaType};

/// Milliseconds in a day: a `Date` is a count of days, a `Time` is below this.
pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

/// The schema of a logical type (`Date`, `Time`, `Timestamp`: `logical::DATE`, ...) on
/// `ty`, with version 1 as Kafka's builders give it.
pub(crate) fn logical_schema(ty: SchemaType, name: &str, optional: bool) -> Schema {
    let mut schema = Schema::new(ty).named(name);
    schema.version = Some(1);
    schema.optional = optional;
    schema
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub(crate) struct JavaDateFormat {
    pattern: String,
    format_items: Vec<Item<'static>>,
    parse_items: Vec<Item<'static>>,
    /// Whether `yy` is used: a two-digit year is then placed in the century Java picks.
    two_digit_year: bool,
    /// The first year of the 100-year window two-digit years fall in: 80 years before the
    /// pattern was compiled, as Java's `SimpleDateFormat` does.
    century_start: i32,
}

impl JavaDateFormat {
    /// Compiles `pattern`; the error says which part is not supported or not valid.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let mut format_items = Vec::new();
        let mut parse_items = Vec::new();
        let mut two_digit_year = false;
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                // Quoted text, where '' stands for one quote.
                loop {
                    match chars.next() {
                        None => return Err(format!("Unterminated quote in pattern {pattern}")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(other) => literal.push(other),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                flush_literal(&mut literal, &mut format_items, &mut parse_items);
                let (fmt, parse) =
                    letter_items(c, count).map_err(|e| format!("{e} in {pattern}"))?;
                two_digit_year |= c == 'y' && count == 2;
                format_items.push(fmt);
                parse_items.push(parse);
            } else {
                literal.push(c);
            }
        }
        flush_literal(&mut literal, &mut format_items, &mut parse_items);
        Ok(Self {
            pattern: pattern.to_owned(),
            format_items,
            parse_items,
            two_digit_year,
            century_start: Utc::now().year() - 80,
        })
    }

    /// The pattern as written.
    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the Unix epoch in UTC.
    pub(crate) fn format_millis(&self, millis: i64) -> Result<String, String> {
        let at = DateTime::<Utc>::from_timestamp_millis(millis)
            .ok_or_else(|| format!("timestamp {millis} is out of the supported range"))?;
        let mut out = String::with_capacity(self.pattern.len() + 8);
        // write! reports a formatting failure instead of panicking as to_string() would.
        write!(out, "{}", at.format_with_items(self.format_items.iter())).map_err(|_| {
            format!(
                "cannot format timestamp {millis} with pattern {}",
                self.pattern
            )
        })?;
        Ok(out)
    }

    /// Parses text into milliseconds since the Unix epoch; the error is chrono's reason.
    pub(crate) fn parse_millis(&self, text: &str) -> Result<i64, String> {
        let mut parsed = Parsed::new();
        // As Java's DateFormat.parse(String), text after the pattern is ignored.
        format::parse_and_remainder(&mut parsed, text, self.parse_items.iter())
            .map_err(|e| e.to_string())?;
        self.fill_defaults(&mut parsed).map_err(|e| e.to_string())?;
        let at = parsed.to_datetime().map_err(|e| e.to_string())?;
        Ok(at.timestamp_millis())
    }

    /// Gives the fields the pattern lacks Java's defaults: 1970-01-01T00:00:00 UTC.
    fn fill_defaults(&self, parsed: &mut Parsed) -> format::ParseResult<()> {
        if parsed.year().is_none() {
            match parsed.year_mod_100() {
                Some(yy) if self.two_digit_year => {
                    let start = self.century_start;
                    let mut year = start - start.rem_euclid(100) + yy;
                    if year < start {
                        year += 100;
                    }
                    parsed.set_year(year.into())?;
                }
                _ => parsed.set_year(1970)?,
            }
        }
        if parsed.ordinal().is_none() {
            if parsed.month().is_none() {
                parsed.set_month(1)?;
            }
            if parsed.day().is_none() {
                parsed.set_day(1)?;
            }
        }
        if parsed.hour_div_12().is_none() {
            parsed.set_ampm(false)?; // `h` without `a` is AM, as in Java
        }
        if parsed.hour_mod_12().is_none() {
            parsed.set_hour12(12)?; // 12 o'clock is hour 0 of its half-day
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0)?;
        }
        if parsed.second().is_none() {
            parsed.set_second(0)?;
        }
        if parsed.offset().is_none() {
            parsed.set_offset(0)?;
        }
        Ok(())
    }
}

fn flush_literal(
    literal: &mut String,
    format_items: &mut Vec<Item<'static>>,
    parse_items: &mut Vec<Item<'static>>,
) {
    if !literal.is_empty() {
        let text: Box<str> = std::mem::take(literal).into_boxed_str();
        format_items.push(Item::OwnedLiteral(text.clone()));
        parse_items.push(Item::OwnedLiteral(text));
    }
}

/// The chrono items that format and parse `count` repetitions of the pattern letter `c`.
fn letter_items(c: char, count: usize) -> Result<(Item<'static>, Item<'static>), String> {
    let same = |item: Item<'static>| Ok((item.clone(), item));
    // Java pads numbers to the letter count; chrono pads to the field's natural width.
    let number = |numeric: Numeric, width: usize| match count {
        1 => same(Item::Numeric(numeric, Pad::None)),
        n if n == width => same(Item::Numeric(numeric, Pad::Zero)),
        _ => Err(unsupported(c, count)),
    };
    let literal = |text: &'static str| same(Item::Literal(text));
    match c {
        'G' => literal("AD"),
        'y' => match count {
            2 => same(Item::Numeric(Numeric::YearMod100, Pad::Zero)),
            1 | 3 => same(Item::Numeric(Numeric::Year, Pad::None)),
            4 => same(Item::Numeric(Numeric::Year, Pad::Zero)),
            _ => Err(unsupported(c, count)),
        },
        // Java parses either form of a name whatever the count; chrono's long-name items do.
        'M' | 'L' => match count {
            1 | 2 => number(Numeric::Month, 2),
            3 => Ok((
                Item::Fixed(Fixed::ShortMonthName),
                Item::Fixed(Fixed::LongMonthName),
            )),
            _ => same(Item::Fixed(Fixed::LongMonthName)),
        },
        'd' => number(Numeric::Day, 2),
        'D' if count == 2 => Err(unsupported(c, count)),
        'D' => number(Numeric::Ordinal, 3),
        'E' if count <= 3 => Ok((
            Item::Fixed(Fixed::ShortWeekdayName),
            Item::Fixed(Fixed::LongWeekdayName),
        )),
        'E' => same(Item::Fixed(Fixed::LongWeekdayName)),
        'u' => number(Numeric::WeekdayFromMon, 1),
        'a' => same(Item::Fixed(Fixed::UpperAmPm)),
        'H' => number(Numeric::Hour, 2),
        'h' => number(Numeric::Hour12, 2),
        'm' => number(Numeric::Minute, 2),
        's' => number(Numeric::Second, 2),
        // Milliseconds as three digits without a dot; chrono only builds this item from "%3f".
        'S' if count == 3 => strftime_item("%3f").map(|i| (i.clone(), i)),
        'S' => Err(unsupported(c, count)),
        // The zone is always UTC; parsing accepts only that name.
        'z' if count <= 3 => literal("UTC"),
        'z' => literal("Coordinated Universal Time"),
        'Z' => same(Item::Fixed(Fixed::TimezoneOffset)),
        // X: "Z" in UTC; parsing also takes "+01", which needs chrono's permissive "%#z".
        'X' if count == 1 => Ok((Item::Fixed(Fixed::TimezoneOffsetZ), strftime_item("%#z")?)),
        'X' if count == 2 => same(Item::Fixed(Fixed::TimezoneOffsetZ)),
        'X' if count == 3 => same(Item::Fixed(Fixed::TimezoneOffsetColonZ)),
        'X' => Err(format!("invalid ISO 8601 format: length={count}")),
        'Y' | 'w' | 'W' | 'F' | 'k' | 'K' => Err(unsupported(c, count)),
        _ => Err(format!("Illegal pattern character '{c}'")),
    }
}

fn unsupported(c: char, count: usize) -> String {
    format!(
        "unsupported pattern letters '{}'",
        c.to_string().repeat(count)
    )
}

/// The single chrono item a strftime specifier stands for.
fn strftime_item(spec: &'static str) -> Result<Item<'static>, String> {
    match StrftimeItems::new(spec).next() {
        Some(Item::Error) | None => Err(format!("chrono does not support {spec}")),
        Some(item) => Ok(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILLIS: i64 = 1_705_321_845_123; // 2024-01-15T12:30:45.123Z, a Monday

    fn fmt(pattern: &str, millis: i64) -> String {
        JavaDateFormat::new(pattern)
            .unwrap()
            .format_millis(millis)
            .unwrap()
    }

    fn parse(pattern: &str, text: &str) -> Result<i64, String> {
        JavaDateFormat::new(pattern).unwrap().parse_millis(text)
    }

    #[test]
    fn formats_common_patterns_in_utc() {
        assert_eq!(fmt("yyyy-MM-dd", MILLIS), "2024-01-15");
        assert_eq!(fmt("yyyyMMdd", MILLIS), "20240115");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ", MILLIS),
            "2024-01-15T12:30:45.123+0000"
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ssXXX", MILLIS),
            "2024-01-15T12:30:45Z"
        );
        assert_eq!(
            fmt("EEE, d MMM yy hh:mm a z", MILLIS),
            "Mon, 15 Jan 24 12:30 PM UTC"
        );
        assert_eq!(
            fmt("EEEE MMMM u D DDD G", MILLIS),
            "Monday January 1 15 015 AD"
        );
        assert_eq!(fmt("'o''clock' '' H:m:s y", 5_000), "o'clock ' 0:0:5 1970");
        assert_eq!(fmt("dd/MM/yyyy", 0), "01/01/1970");
    }

    #[test]
    fn parses_with_offsets_and_defaults() {
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2024-01-15T12:30:45.123+0000"),
            Ok(MILLIS)
        );
        assert_eq!(
            parse(
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2024-01-15T14:30:45.123+02:00"
            ),
            Ok(MILLIS)
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mm:ss.SSSX", "2024-01-15 13:30:45.123+01"),
            Ok(MILLIS)
        );
        assert_eq!(parse("yyyyMMdd", "20240115"), Ok(1_705_276_800_000));
        assert_eq!(parse("HH:mm", "01:02"), Ok(3_720_000));
        assert_eq!(parse("yyyy", "1971"), Ok(31_536_000_000));
        assert_eq!(parse("hh:mm a", "12:30 AM"), Ok(1_800_000));
        assert_eq!(
            parse("d MMM yyyy", "15 January 2024"),
            Ok(1_705_276_800_000)
        );
        // Text after the pattern is ignored, as Java does.
        assert_eq!(
            parse("yyyy-MM-dd", "2024-01-15 and more"),
            Ok(1_705_276_800_000)
        );
    }

    #[test]
    fn two_digit_years_fall_in_java_s_window() {
        let this_year = Utc::now().year();
        let yy = |y: i32| format!("{:02}", y.rem_euclid(100));
        // 10 years ahead is in this century's window; 30 years ahead is taken as 70 years ago.
        let soon = parse("yy", &yy(this_year + 10)).unwrap();
        let later = parse("yy", &yy(this_year + 30)).unwrap();
        let year_of = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap().year();
        assert_eq!(year_of(soon), this_year + 10);
        assert_eq!(year_of(later), this_year - 70);
    }

    #[test]
    fn parse_errors_say_why() {
        assert_eq!(
            parse("yyyy-MM-dd", "2024/01/15"),
            Err("input contains invalid characters".to_owned())
        );
        assert_eq!(
            parse("yyyy-MM-dd", "2024-13-01"),
            Err("input is out of range".to_owned())
        );
        assert_eq!(
            parse("yyyy-MM-dd", "2024-01"),
            Err("premature end of input".to_owned())
        );
    }

    #[test]
    fn invalid_or_unsupported_patterns_are_rejected() {
        let err = |p: &str| JavaDateFormat::new(p).unwrap_err();
        assert_eq!(
            err("yyyy-MM-dd'T"),
            "Unterminated quote in pattern yyyy-MM-dd'T"
        );
        assert_eq!(err("yyyy-qq"), "Illegal pattern character 'q' in yyyy-qq");
        assert_eq!(
            err("YYYY-ww"),
            "unsupported pattern letters 'YYYY' in YYYY-ww"
        );
        assert_eq!(
            err("HH:mm:ss.SSSSSS"),
            "unsupported pattern letters 'SSSSSS' in HH:mm:ss.SSSSSS"
        );
        assert_eq!(err("XXXX"), "invalid ISO 8601 format: length=4 in XXXX");
        assert_eq!(err("yyyyy"), "unsupported pattern letters 'yyyyy' in yyyyy");
        assert_eq!(JavaDateFormat::new("yyyy").unwrap().pattern(), "yyyy");
    }
}
