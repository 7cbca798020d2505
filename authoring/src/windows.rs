//! Recurring windows ("weekdays 17:00–19:00 in America/New_York") expanded into the UTC
//! `intervals` a promotion carries. The evaluator ships to browsers and Workers without a
//! time-zone database; this expansion has one (jiff's bundled copy of the IANA database, so
//! every host expands identically) and runs where promotions are written: `promoseal windows`
//! and the console's page (wasm), with the same code.
//!
//! [`windows`] takes the window and the range as text, as both hosts hold them, and names the
//! field at fault in its error ([`WindowsError::field`]).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use promoseal_evaluator::{from_json_strict, FieldError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most intervals one expansion may produce (five years of a daily window).
pub const MAX_INTERVALS: usize = 2_000;

/// What `windows` expands: a window that recurs on some weekdays between two wall-clock times
/// of a named time zone, and the range of instants to expand it over.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WindowsInput {
    /// The IANA time zone of the times (the shop's `timeZone`), e.g. `Europe/Paris`.
    pub zone: String,
    /// The weekdays it recurs on: `mon` … `sun` or `monday` … `sunday`, in any case. Empty or
    /// absent: every day.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub days: Vec<String>,
    /// The opening wall-clock time, `HH:MM` (or `HH:MM:SS`).
    pub from: String,
    /// The closing wall-clock time; at or before `from`, it is the next day's (an overnight
    /// window).
    pub to: String,
    /// The start of the range to expand (RFC 3339), e.g. the promotion's `startsAt`.
    pub start: String,
    /// The end of the range (RFC 3339, exclusive), e.g. the promotion's `endsAt`.
    pub until: String,
}

/// One UTC interval, `[start, end)`: an entry of a promotion's `intervals`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Interval {
    /// RFC 3339, UTC (`2027-03-08T22:00:00Z`).
    pub start: String,
    /// RFC 3339, UTC; after `start`.
    pub end: String,
}

/// Why a window cannot be expanded, naming the input's field at fault.
#[derive(Clone, Debug, Error)]
pub enum WindowsError {
    /// Not JSON of [`WindowsInput`]'s shape (unknown field, duplicate key, wrong type).
    #[error("input: {0}")]
    Parse(FieldError),
    #[error("zone: unknown time zone `{zone}`")]
    Zone {
        zone: String,
        #[source]
        source: jiff::Error,
    },
    /// `index`: the entry's place in `days`.
    #[error("days[{index}]: `{day}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)")]
    Day { index: usize, day: String },
    /// `field`: `from` or `to`.
    #[error("{field}: `{value}` is not a time of day such as 09:00")]
    Time {
        field: &'static str,
        value: String,
        #[source]
        source: jiff::Error,
    },
    /// `field`: `start` or `until`.
    #[error("{field}: `{value}` is not an RFC 3339 instant")]
    Instant {
        field: &'static str,
        value: String,
        #[source]
        source: jiff::Error,
    },
    #[error("until: the end of the range must be after its start")]
    EmptyRange,
    #[error("until: more than {MAX_INTERVALS} intervals; shorten the range")]
    TooMany,
    /// The range's days reach past the dates jiff computes with (years -9999 to 9999).
    #[error("until: the range reaches beyond the dates a time zone can be applied to")]
    OutOfRange {
        #[source]
        source: jiff::Error,
    },
}

impl WindowsError {
    /// The field of the input at fault (`zone`, `days[2]`, `from`, `to`, `start`, `until`),
    /// with the message without it.
    pub fn field(&self) -> FieldError {
        let path = match self {
            WindowsError::Parse(f) => return f.clone(),
            WindowsError::Zone { .. } => "zone".to_string(),
            WindowsError::Day { index, .. } => format!("days[{index}]"),
            WindowsError::Time { field, .. } | WindowsError::Instant { field, .. } => {
                field.to_string()
            }
            WindowsError::EmptyRange | WindowsError::TooMany | WindowsError::OutOfRange { .. } => {
                "until".to_string()
            }
        };
        let message = self.to_string();
        let message = message
            .strip_prefix(&format!("{path}: "))
            .unwrap_or(&message)
            .to_string();
        FieldError::new(path, message)
    }
}

impl From<jiff::Error> for WindowsError {
    fn from(source: jiff::Error) -> WindowsError {
        WindowsError::OutOfRange { source }
    }
}

/// Reads a [`WindowsInput`] from JSON with the evaluator's strict reader and expands it: the
/// whole call of a host that holds JSON (the wasm API).
pub fn windows_json(bytes: &[u8]) -> Result<Vec<Interval>, WindowsError> {
    let input: WindowsInput = from_json_strict(bytes).map_err(|e| {
        WindowsError::Parse(match e.path {
            None => FieldError::new("$", e.message),
            Some(path) => FieldError::new(path, e.detail),
        })
    })?;
    windows(&input)
}

/// The UTC intervals of a recurring window that overlap `[start, until)`, clipped to it, in
/// order, merged where they touch. Daylight-saving changes are followed; wall-clock times that
/// do not exist (spring-forward gaps) move forward, ambiguous ones (fall-back folds) take the
/// earlier instant. Pure: the same input gives the same intervals on every host.
pub fn windows(input: &WindowsInput) -> Result<Vec<Interval>, WindowsError> {
    let recurring = Recurring::parse(&input.zone, &input.days, &input.from, &input.to)?;
    let start = instant("start", &input.start)?;
    let until = instant("until", &input.until)?;
    recurring.expand(start, until)
}

fn instant(field: &'static str, value: &str) -> Result<Timestamp, WindowsError> {
    value.parse().map_err(|source| WindowsError::Instant {
        field,
        value: value.to_string(),
        source,
    })
}

fn weekday(index: usize, s: &str) -> Result<Weekday, WindowsError> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        other => {
            return Err(WindowsError::Day {
                index,
                day: other.to_string(),
            })
        }
    })
}

/// A window that recurs on some weekdays between two wall-clock times of a named zone. A `to`
/// at or before `from` ends on the next day (an overnight window).
#[derive(Debug)]
struct Recurring {
    zone: TimeZone,
    /// Empty: every day.
    days: Vec<Weekday>,
    from: Time,
    to: Time,
}

impl Recurring {
    fn parse(zone: &str, days: &[String], from: &str, to: &str) -> Result<Recurring, WindowsError> {
        let tz = TimeZone::get(zone).map_err(|source| WindowsError::Zone {
            zone: zone.to_string(),
            source,
        })?;
        let days = days
            .iter()
            .enumerate()
            .map(|(i, d)| weekday(i, d))
            .collect::<Result<Vec<_>, _>>()?;
        let time = |field: &'static str, value: &str| -> Result<Time, WindowsError> {
            value.parse::<Time>().map_err(|source| WindowsError::Time {
                field,
                value: value.to_string(),
                source,
            })
        };
        let (from, to) = (time("from", from)?, time("to", to)?);
        Ok(Recurring {
            zone: tz,
            days,
            from,
            to,
        })
    }

    fn expand(&self, start: Timestamp, until: Timestamp) -> Result<Vec<Interval>, WindowsError> {
        if until <= start {
            return Err(WindowsError::EmptyRange);
        }
        let first: Date = self.zone.to_datetime(start).date().yesterday()?;
        let last: Date = self.zone.to_datetime(until).date();
        // A wall-clock time of the zone as an instant, as `DateTime::to_zoned` resolves it
        // (jiff's "compatible" disambiguation), without building a `Zoned`.
        let at = |day: Date, time: Time| {
            self.zone
                .to_ambiguous_timestamp(day.to_datetime(time))
                .compatible()
        };
        let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
        let mut day = first;
        while day <= last {
            if self.days.is_empty() || self.days.contains(&day.weekday()) {
                let open = at(day, self.from)?;
                let end_day = if self.to <= self.from {
                    day.tomorrow()?
                } else {
                    day
                };
                let close = at(end_day, self.to)?;
                let (s, e) = (open.max(start), close.min(until));
                if s < e {
                    match out.last_mut() {
                        Some((_, prev_end)) if *prev_end >= s => *prev_end = (*prev_end).max(e),
                        _ => out.push((s, e)),
                    }
                    if out.len() > MAX_INTERVALS {
                        return Err(WindowsError::TooMany);
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn input(
        zone: &str,
        days: &[&str],
        from: &str,
        to: &str,
        start: &str,
        until: &str,
    ) -> WindowsInput {
        WindowsInput {
            zone: zone.into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            from: from.into(),
            to: to.into(),
            start: start.into(),
            until: until.into(),
        }
    }

    fn interval(start: &str, end: &str) -> Interval {
        Interval {
            start: start.into(),
            end: end.into(),
        }
    }

    /// The error's field and its message.
    fn refusal(i: &WindowsInput) -> (String, String) {
        let e = windows(i).unwrap_err();
        let f = e.field();
        assert_eq!(e.to_string(), format!("{}: {}", f.path, f.message));
        (f.path, f.message)
    }

    #[test]
    fn follows_daylight_saving_time() {
        // Paris moves to summer time on 2026-03-29: 09:00 is 08:00Z before, 07:00Z after.
        let got = windows(&input(
            "Europe/Paris",
            &[],
            "09:00",
            "17:00",
            "2026-03-28T00:00:00Z",
            "2026-03-30T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(
            got,
            vec![
                interval("2026-03-28T08:00:00Z", "2026-03-28T16:00:00Z"),
                interval("2026-03-29T07:00:00Z", "2026-03-29T15:00:00Z"),
            ]
        );
    }

    #[test]
    fn weekday_evenings_across_the_us_change() {
        // New York moves to EDT on Sunday 2027-03-14: 17:00 is 22:00Z before, 21:00Z after.
        let got = windows(&input(
            "America/New_York",
            &["mon", "tue", "wed", "thu", "fri"],
            "17:00",
            "19:00",
            "2027-03-08T05:00:00Z",
            "2027-03-20T04:00:00Z",
        ))
        .unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(
            got[4],
            interval("2027-03-12T22:00:00Z", "2027-03-13T00:00:00Z")
        );
        assert_eq!(
            got[5],
            interval("2027-03-15T21:00:00Z", "2027-03-15T23:00:00Z")
        );
    }

    #[test]
    fn weekdays_overnight_and_clipping() {
        // Fri and Sat 22:00-02:00 in New York (UTC-5 in January), range cut mid-window.
        let got = windows(&input(
            "America/New_York",
            &["fri", "SATURDAY"],
            "22:00",
            "02:00",
            "2027-01-08T04:00:00Z",
            "2027-01-10T06:00:00Z",
        ))
        .unwrap();
        assert_eq!(
            got,
            vec![
                // Thursday night is not listed; Friday 22:00 EST = Saturday 03:00Z.
                interval("2027-01-09T03:00:00Z", "2027-01-09T07:00:00Z"),
                interval("2027-01-10T03:00:00Z", "2027-01-10T06:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_whole_day_every_day_is_one_interval() {
        let got = windows(&input(
            "UTC",
            &[],
            "00:00",
            "00:00",
            "2026-01-01T00:00:00Z",
            "2040-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(
            got,
            vec![interval("2026-01-01T00:00:00Z", "2040-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn refusals_name_their_field() {
        let ok = input(
            "UTC",
            &["mon"],
            "09:00",
            "17:00",
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
        );
        let with = |f: &dyn Fn(&mut WindowsInput)| {
            let mut i = ok.clone();
            f(&mut i);
            refusal(&i)
        };
        assert_eq!(
            with(&|i| i.zone = "Mars/Olympus".into()),
            ("zone".into(), "unknown time zone `Mars/Olympus`".into())
        );
        assert_eq!(
            with(&|i| i.days = vec!["mon".into(), "funday".into()]),
            (
                "days[1]".into(),
                "`funday` is not a weekday (mon, tue, wed, thu, fri, sat, sun)".into()
            )
        );
        assert_eq!(
            with(&|i| i.from = "9am".into()),
            (
                "from".into(),
                "`9am` is not a time of day such as 09:00".into()
            )
        );
        assert_eq!(with(&|i| i.to = "25:00".into()).0, "to");
        assert_eq!(
            with(&|i| i.start = "yesterday".into()),
            (
                "start".into(),
                "`yesterday` is not an RFC 3339 instant".into()
            )
        );
        assert_eq!(with(&|i| i.until = "2026-01-01".into()).0, "until");
        assert_eq!(
            with(&|i| i.until = ok.start.clone()),
            (
                "until".into(),
                "the end of the range must be after its start".into()
            )
        );
        assert_eq!(
            with(&|i| {
                i.days.clear();
                i.until = "2040-01-01T00:00:00Z".into();
            }),
            (
                "until".into(),
                "more than 2000 intervals; shorten the range".into()
            )
        );
        // The day before the first instant jiff handles has no 09:00 it can compute.
        assert_eq!(
            with(&|i| {
                i.days.clear();
                i.start = "-009999-01-02T02:00:00Z".into();
                i.until = "-009999-01-04T00:00:00Z".into();
            }),
            (
                "until".into(),
                "the range reaches beyond the dates a time zone can be applied to".into()
            )
        );
    }

    #[test]
    fn json_is_read_strictly() {
        let got = windows_json(
            br#"{"zone": "Europe/Paris", "days": ["sat", "sun"], "from": "09:00", "to": "17:00",
                 "start": "2026-03-27T00:00:00Z", "until": "2026-03-30T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        let e = windows_json(br#"{"zone": "UTC", "from": "09:00", "to": "17:00", "start": "2026-03-27T00:00:00Z", "until": "2026-03-30T00:00:00Z", "weekdays": []}"#)
            .unwrap_err();
        assert!(matches!(e, WindowsError::Parse(_)), "{e}");
        assert!(e.to_string().contains("`weekdays`"), "{e}");
        let e = windows_json(br#"{"zone": "UTC"}"#).unwrap_err();
        assert!(e.to_string().starts_with("input: "), "{e}");
    }
}
