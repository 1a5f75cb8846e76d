//! Response deadlines: calendar days in the acquirer's time zone.
//!
//! A network gives `N` calendar days from the day a stage starts. The
//! deadline is the end of the `N`th day after it, in the acquirer's time
//! zone (so a dispute opened at 23:30 in Berlin counts from Berlin's
//! date, whatever UTC says), or the processor's own deadline if that is
//! earlier; then the safety margin moves it back to the end of the day
//! that many calendar days before. Days are counted with the IANA
//! database bundled by `jiff`, so DST changes never shift a deadline by an
//! hour into the next day.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// The last millisecond of `date` in `tz`.
fn end_of_day(date: Date, tz: &TimeZone) -> Result<u64, String> {
    let next = date.tomorrow().map_err(|e| e.to_string())?;
    let start = next
        .to_zoned_datetime(tz.clone())
        .map_err(|e| e.to_string())?;
    let ms = start.timestamp().as_millisecond() - 1;
    u64::try_from(ms).map_err(|_| "a deadline before 1970".to_string())
}

fn date_of(ms: u64, tz: &TimeZone) -> Result<Date, String> {
    let ms = i64::try_from(ms).map_err(|_| "a time out of range".to_string())?;
    let ts = Timestamp::from_millisecond(ms).map_err(|e| e.to_string())?;
    Ok(ts.to_zoned_datetime(tz.clone()).date())
}

/// Checks an IANA time zone name.
///
/// # Errors
/// The reason, for an unknown zone.
pub fn check_timezone(name: &str) -> Result<(), String> {
    TimeZone::get(name)
        .map(|_| ())
        .map_err(|e| format!("time zone {name:?}: {e}"))
}

/// The response deadline (Unix ms) of a stage that started at
/// `opened_ms`: the end of the `days`th calendar day after it in `tz`,
/// or `due_by_ms` if earlier, then `margin_days` calendar days earlier
/// (never before the stage started).
///
/// # Errors
/// An unknown time zone, a time out of range.
pub fn response_due(
    opened_ms: u64,
    days: u32,
    margin_days: u32,
    tz: &str,
    due_by_ms: Option<u64>,
) -> Result<u64, String> {
    let tz = TimeZone::get(tz).map_err(|e| format!("time zone {tz:?}: {e}"))?;
    let opened = date_of(opened_ms, &tz)?;
    let last = opened
        .checked_add(Span::new().days(i64::from(days)))
        .map_err(|e| e.to_string())?;
    let mut due = end_of_day(last, &tz)?;
    if let Some(by) = due_by_ms {
        due = due.min(by);
    }
    if margin_days > 0 {
        let d = date_of(due, &tz)?
            .checked_sub(Span::new().days(i64::from(margin_days)))
            .map_err(|e| e.to_string())?;
        due = due.min(end_of_day(d, &tz)?);
    }
    Ok(due.max(opened_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u64 {
        s.parse::<Timestamp>().unwrap().as_millisecond() as u64
    }

    #[test]
    fn days_count_in_the_acquirers_zone() {
        // 23:30 UTC on 1 March is already 2 March in Berlin: 30 days from
        // Berlin's date end on 1 April, Berlin time (CEST from 29 March).
        let due = response_due(ms("2026-03-01T23:30:00Z"), 30, 0, "Europe/Berlin", None).unwrap();
        assert_eq!(due, ms("2026-04-01T21:59:59.999Z"));
        // The same instant in New York is still 1 March.
        let due =
            response_due(ms("2026-03-01T23:30:00Z"), 30, 0, "America/New_York", None).unwrap();
        assert_eq!(due, ms("2026-04-01T03:59:59.999Z"));
    }

    #[test]
    fn the_margin_and_an_earlier_processor_deadline_apply() {
        let opened = ms("2026-06-10T12:00:00Z");
        let plain = response_due(opened, 20, 0, "UTC", None).unwrap();
        assert_eq!(plain, ms("2026-06-30T23:59:59.999Z"));
        let margin = response_due(opened, 20, 2, "UTC", None).unwrap();
        assert_eq!(margin, ms("2026-06-28T23:59:59.999Z"));
        let by = ms("2026-06-25T17:00:00Z");
        assert_eq!(response_due(opened, 20, 0, "UTC", Some(by)).unwrap(), by);
        assert_eq!(
            response_due(opened, 20, 1, "UTC", Some(by)).unwrap(),
            ms("2026-06-24T23:59:59.999Z")
        );
        assert!(response_due(opened, 20, 0, "Mars/Olympus", None).is_err());
    }
}
