//! What answers a DID at a given moment: its holidays, schedules and calls
//! limit over what answers it otherwise. Time is the DID's own: the UTC
//! instant is turned into its zone's local date and time (chrono-tz, so
//! DST-correct), and:
//!
//! 1. on a holiday of the DID (00:00 to 23:59:59 local), its holiday flow;
//! 2. else a one-time schedule covering the local date and time;
//! 3. else a recurring schedule covering the local weekday and time;
//! 4. else what answers the DID by default.
//!
//! A schedule's `from`..`to` may run past midnight (`22:00`..`06:00`); a
//! recurring one then belongs to the day it starts on. `from` equal to `to`
//! is the whole day. Sans-IO: the time is
//! an argument, so the rules are unit-tested with a fake clock.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};

use super::Route;

/// A DID's routing besides what answers it by default.
#[derive(Debug)]
pub struct DidRoute {
    /// What answers it when no holiday or schedule applies.
    pub default: Route,
    /// The DID's zone.
    pub time_zone: chrono_tz::Tz,
    /// At most this many calls of the DID at once, if limited.
    pub calls_limit: Option<CallsLimit>,
    /// The flow that runs on a holiday, if any.
    pub holiday_flow: Option<i64>,
    /// The DID's holidays (local dates).
    pub holidays: Vec<NaiveDate>,
    /// Its schedules.
    pub schedules: Vec<Schedule>,
}

/// Two DID routes are the same when they are the same provisioned entry.
impl PartialEq for DidRoute {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for DidRoute {}

/// A DID's calls limit.
#[derive(Debug, Clone)]
pub struct CallsLimit {
    /// Calls of the DID in progress at most (waiting, in the IVR or
    /// talking).
    pub calls: u32,
    /// What a caller over the limit hears (the limit's text said, then a
    /// hang-up); without it the caller gets 486 Busy Here.
    pub flow: Option<Arc<ivr::Flow>>,
}

/// When a schedule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// On one date.
    Once(NaiveDate),
    /// On these weekdays.
    Weekly(Vec<Weekday>),
}

/// A flow that runs at set times instead of the DID's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The flow.
    pub flow: i64,
    /// On which days.
    pub when: When,
    /// From (local time, inclusive).
    pub from: NaiveTime,
    /// To (local time, exclusive); before `from` when it runs past
    /// midnight, equal to it for the whole day.
    pub to: NaiveTime,
}

impl Schedule {
    /// Whether it covers local `date` at `time`.
    fn covers(&self, date: NaiveDate, time: NaiveTime) -> bool {
        let starts_on = |day: NaiveDate| match &self.when {
            When::Once(once) => *once == day,
            When::Weekly(days) => days.contains(&day.weekday()),
        };
        if self.from == self.to {
            starts_on(date)
        } else if self.from < self.to {
            starts_on(date) && self.from <= time && time < self.to
        } else {
            // Past midnight: the evening of its day, or the morning after.
            (starts_on(date) && time >= self.from)
                || (date.pred_opt().is_some_and(starts_on) && time < self.to)
        }
    }
}

/// What answers a call to the DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The DID's default.
    Default,
    /// The holiday flow.
    Holiday(i64),
    /// A schedule's flow.
    Scheduled(i64),
}

impl DidRoute {
    /// What answers at `utc`.
    pub fn choose(&self, utc: chrono::DateTime<chrono::Utc>) -> Choice {
        let local = utc.with_timezone(&self.time_zone);
        let (date, time) = (local.date_naive(), local.time());
        // Whole seconds: a schedule's edges are minutes.
        let time = time.with_nanosecond(0).unwrap_or(time);
        if let Some(flow) = self.holiday_flow
            && self.holidays.contains(&date)
        {
            return Choice::Holiday(flow);
        }
        let once = self
            .schedules
            .iter()
            .filter(|schedule| matches!(schedule.when, When::Once(_)))
            .find(|schedule| schedule.covers(date, time));
        let weekly = || {
            self.schedules
                .iter()
                .filter(|schedule| matches!(schedule.when, When::Weekly(_)))
                .find(|schedule| schedule.covers(date, time))
        };
        match once.or_else(weekly) {
            Some(schedule) => Choice::Scheduled(schedule.flow),
            None => Choice::Default,
        }
    }

    /// The route a call at `utc` takes.
    pub fn route_at(&self, utc: chrono::DateTime<chrono::Utc>) -> Route {
        match self.choose(utc) {
            Choice::Default => self.default.clone(),
            Choice::Holiday(flow) | Choice::Scheduled(flow) => Route::Flow {
                flow: super::FlowSource::Stored(flow),
                time_zone: self.time_zone,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    fn route(zone: chrono_tz::Tz, schedules: Vec<Schedule>) -> DidRoute {
        DidRoute {
            default: Route::Echo,
            time_zone: zone,
            calls_limit: None,
            holiday_flow: Some(99),
            holidays: vec![date("2026-12-25")],
            schedules,
        }
    }

    #[test]
    fn a_holiday_runs_from_local_midnight_to_midnight() {
        let route = route(chrono_tz::America::New_York, Vec::new());
        // 25 December in New York is 05:00 UTC on the 25th to 05:00 UTC
        // on the 26th (EST, UTC-5).
        assert_eq!(route.choose(utc("2026-12-25T04:59:59Z")), Choice::Default);
        assert_eq!(
            route.choose(utc("2026-12-25T05:00:00Z")),
            Choice::Holiday(99)
        );
        assert_eq!(
            route.choose(utc("2026-12-26T04:59:59Z")),
            Choice::Holiday(99)
        );
        assert_eq!(route.choose(utc("2026-12-26T05:00:00Z")), Choice::Default);
    }

    #[test]
    fn a_one_time_schedule_beats_a_recurring_one_and_the_default() {
        let weekdays = Schedule {
            flow: 1,
            when: When::Weekly(vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]),
            from: time("09:00"),
            to: time("17:00"),
        };
        let once = Schedule {
            flow: 2,
            when: When::Once(date("2026-11-24")),
            from: time("12:00"),
            to: time("13:00"),
        };
        let route = route(chrono_tz::UTC, vec![weekdays, once]);
        // Tuesday 24 November 2026.
        assert_eq!(route.choose(utc("2026-11-24T08:59:59Z")), Choice::Default);
        assert_eq!(
            route.choose(utc("2026-11-24T09:00:00Z")),
            Choice::Scheduled(1)
        );
        assert_eq!(
            route.choose(utc("2026-11-24T12:30:00Z")),
            Choice::Scheduled(2)
        );
        assert_eq!(
            route.choose(utc("2026-11-24T13:00:00Z")),
            Choice::Scheduled(1)
        );
        assert_eq!(route.choose(utc("2026-11-24T17:00:00Z")), Choice::Default);
        // Saturday.
        assert_eq!(route.choose(utc("2026-11-28T10:00:00Z")), Choice::Default);
    }

    #[test]
    fn a_schedule_past_midnight_belongs_to_the_day_it_starts() {
        let nights = Schedule {
            flow: 3,
            when: When::Weekly(vec![Weekday::Fri]),
            from: time("22:00"),
            to: time("06:00"),
        };
        let route = route(chrono_tz::UTC, vec![nights]);
        // Friday 27 November 2026, 23:00; Saturday 05:59; Saturday 22:00.
        assert_eq!(
            route.choose(utc("2026-11-27T23:00:00Z")),
            Choice::Scheduled(3)
        );
        assert_eq!(
            route.choose(utc("2026-11-28T05:59:00Z")),
            Choice::Scheduled(3)
        );
        assert_eq!(route.choose(utc("2026-11-28T06:00:00Z")), Choice::Default);
        assert_eq!(route.choose(utc("2026-11-28T22:00:00Z")), Choice::Default);
        // Thursday night is not Friday's.
        assert_eq!(route.choose(utc("2026-11-27T03:00:00Z")), Choice::Default);
    }

    #[test]
    fn a_schedule_from_a_time_to_the_same_time_is_the_whole_day() {
        let sundays = Schedule {
            flow: 5,
            when: When::Weekly(vec![Weekday::Sun]),
            from: time("00:00"),
            to: time("00:00"),
        };
        let route = route(chrono_tz::UTC, vec![sundays]);
        // Sunday 29 November 2026.
        assert_eq!(
            route.choose(utc("2026-11-29T00:00:00Z")),
            Choice::Scheduled(5)
        );
        assert_eq!(
            route.choose(utc("2026-11-29T23:59:59Z")),
            Choice::Scheduled(5)
        );
        assert_eq!(route.choose(utc("2026-11-30T00:00:00Z")), Choice::Default);
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        let office = Schedule {
            flow: 4,
            when: When::Weekly(vec![Weekday::Mon]),
            from: time("09:00"),
            to: time("10:00"),
        };
        let route = route(chrono_tz::Europe::Paris, vec![office]);
        // 09:30 in Paris is 07:30 UTC in summer (CEST) and 08:30 UTC in
        // winter (CET).
        assert_eq!(
            route.choose(utc("2026-06-01T07:30:00Z")),
            Choice::Scheduled(4)
        );
        assert_eq!(route.choose(utc("2026-06-01T08:30:00Z")), Choice::Default);
        assert_eq!(
            route.choose(utc("2026-11-30T08:30:00Z")),
            Choice::Scheduled(4)
        );
        assert_eq!(route.choose(utc("2026-11-30T07:30:00Z")), Choice::Default);
    }
}
