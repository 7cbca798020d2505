//! Recurring windows ("weekdays 09:00–17:00 in Europe/Paris") expanded into the UTC intervals a
//! bundle carries. The evaluator ships to browsers and Workers without a time-zone database;
//! the signer has one (bundled, so every machine expands identically) and does the expansion.

use anyhow::{bail, Context, Result};
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

/// Most intervals one expansion may produce (five years of a daily window).
pub const MAX_INTERVALS: usize = 2_000;

/// A window that recurs on some weekdays between two wall-clock times of a named zone. A `to`
/// at or before `from` ends on the next day (an overnight window).
#[derive(Debug)]
pub struct Recurring {
    pub zone: TimeZone,
    /// Empty: every day.
    pub days: Vec<Weekday>,
    pub from: Time,
    pub to: Time,
}

/// One UTC interval, `[start, end)`, as the bundle payload's `intervals` entries.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub start: String,
    pub end: String,
}

fn weekday(s: &str) -> Result<Weekday> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        other => bail!("`{other}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
    })
}

impl Recurring {
    /// `days`: comma-separated weekdays (empty: every day); `from`/`to`: `HH:MM`.
    pub fn parse(zone: &str, days: &str, from: &str, to: &str) -> Result<Recurring> {
        let tz = TimeZone::get(zone).with_context(|| format!("unknown time zone `{zone}`"))?;
        let days = days
            .split(',')
            .filter(|d| !d.trim().is_empty())
            .map(weekday)
            .collect::<Result<Vec<_>>>()?;
        let time = |s: &str, what: &str| -> Result<Time> {
            s.parse::<Time>()
                .with_context(|| format!("--{what}: `{s}` is not a time of day such as 09:00"))
        };
        let (from, to) = (time(from, "from")?, time(to, "to")?);
        Ok(Recurring {
            zone: tz,
            days,
            from,
            to,
        })
    }

    /// The intervals overlapping `[start, until)`, clipped to it, in order, merged where they
    /// touch. Wall-clock times that do not exist (spring-forward gaps) move forward; ambiguous
    /// ones (fall-back folds) take the earlier instant.
    pub fn expand(&self, start: Timestamp, until: Timestamp) -> Result<Vec<Interval>> {
        if until <= start {
            bail!("the end of the range must be after its start");
        }
        let first: Date = start.to_zoned(self.zone.clone()).date().yesterday()?;
        let last: Date = until.to_zoned(self.zone.clone()).date();
        let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
        let mut day = first;
        while day <= last {
            if self.days.is_empty() || self.days.contains(&day.weekday()) {
                let open = day
                    .to_datetime(self.from)
                    .to_zoned(self.zone.clone())?
                    .timestamp();
                let end_day = if self.to <= self.from {
                    day.checked_add(1.day())?
                } else {
                    day
                };
                let close = end_day
                    .to_datetime(self.to)
                    .to_zoned(self.zone.clone())?
                    .timestamp();
                let (s, e) = (open.max(start), close.min(until));
                if s < e {
                    match out.last_mut() {
                        Some((_, prev_end)) if *prev_end >= s => *prev_end = (*prev_end).max(e),
                        _ => out.push((s, e)),
                    }
                    if out.len() > MAX_INTERVALS {
                        bail!("more than {MAX_INTERVALS} intervals; shorten the range");
                    }
                }
            }
            day = day.tomorrow()?;
        }
        Ok(out
            .into_iter()
            .map(|(s, e)| Interval {
                start: s.to_string(),
                end: e.to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn follows_daylight_saving_time() {
        // Paris moves to summer time on 2026-03-29: 09:00 is 08:00Z before, 07:00Z after.
        let r = Recurring::parse("Europe/Paris", "", "09:00", "17:00").unwrap();
        let got = r
            .expand(ts("2026-03-28T00:00:00Z"), ts("2026-03-30T00:00:00Z"))
            .unwrap();
        assert_eq!(
            got,
            vec![
                Interval {
                    start: "2026-03-28T08:00:00Z".into(),
                    end: "2026-03-28T16:00:00Z".into()
                },
                Interval {
                    start: "2026-03-29T07:00:00Z".into(),
                    end: "2026-03-29T15:00:00Z".into()
                },
            ]
        );
    }

    #[test]
    fn weekdays_overnight_and_clipping() {
        // Fri and Sat 22:00-02:00 in New York (UTC-5 in January), range cut mid-window.
        let r = Recurring::parse("America/New_York", "fri,sat", "22:00", "02:00").unwrap();
        let got = r
            .expand(ts("2027-01-08T04:00:00Z"), ts("2027-01-10T06:00:00Z"))
            .unwrap();
        assert_eq!(
            got,
            vec![
                // Thursday night is not listed; Friday 22:00 EST = Saturday 03:00Z.
                Interval {
                    start: "2027-01-09T03:00:00Z".into(),
                    end: "2027-01-09T07:00:00Z".into()
                },
                Interval {
                    start: "2027-01-10T03:00:00Z".into(),
                    end: "2027-01-10T06:00:00Z".into()
                },
            ]
        );
    }

    #[test]
    fn refuses_bad_input() {
        assert!(Recurring::parse("Mars/Olympus", "", "09:00", "17:00").is_err());
        assert!(Recurring::parse("UTC", "funday", "09:00", "17:00").is_err());
        assert!(Recurring::parse("UTC", "", "9am", "17:00").is_err());
        let r = Recurring::parse("UTC", "", "00:00", "00:00").unwrap();
        // A whole-day window every day merges into one interval.
        let whole = r
            .expand(ts("2026-01-01T00:00:00Z"), ts("2040-01-01T00:00:00Z"))
            .unwrap();
        assert_eq!(whole.len(), 1);
        let daily = Recurring::parse("UTC", "", "09:00", "17:00").unwrap();
        assert!(daily
            .expand(ts("2026-01-01T00:00:00Z"), ts("2040-01-01T00:00:00Z"))
            .is_err());
        assert!(daily
            .expand(ts("2026-01-02T00:00:00Z"), ts("2026-01-01T00:00:00Z"))
            .is_err());
    }
}
