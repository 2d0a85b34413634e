//! The time axis of a chart: clock times in the report's zone (`--tz`) at round intervals
//! chosen for the span, so a reader matches the chart to the timeline below it (`08:02:40`,
//! `13:05`) instead of working out what `28 s` after the start was.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::labels::text_width;

/// Intervals between ticks, in milliseconds, smallest first.
const SPACINGS: [i64; 22] = [
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    604_800_000,
];

/// Room between two tick labels, in px.
const GAP: f64 = 24.0;

/// A tick: its time and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub ts: Timestamp,
    pub label: String,
}

/// Ticks between `start` and `end` for an axis `width` px wide whose labels are `size` px.
pub fn ticks(start: Timestamp, end: Timestamp, tz: &TimeZone, width: f64, size: f64) -> Vec<Tick> {
    let (a, b) = (
        start.as_millisecond(),
        end.as_millisecond().max(start.as_millisecond()),
    );
    let span = b - a;
    // Intervals are counted in the zone's clock time, so ticks fall on 13:05, not 13:04:37.
    let offset = i64::from(tz.to_offset(start).seconds()) * 1000;
    // Across a change of offset (EDT to EST) the clock repeats an hour: the ticks name their
    // zone where it changes, so `01:10` is not read as the earlier `01:10`.
    let crosses = tz.to_offset(start) != tz.to_offset(end);
    for spacing in SPACINGS {
        let mut sample = label(start, tz, spacing);
        if crosses {
            sample.push_str(" +00:00");
        }
        let fits = (span / spacing + 1) as f64 * (text_width(&sample, size) + GAP) <= width;
        if !fits {
            continue;
        }
        let first = (a + offset).div_euclid(spacing) * spacing
            + if (a + offset).rem_euclid(spacing) == 0 {
                0
            } else {
                spacing
            };
        let out: Vec<Tick> = (0..)
            .map(|i| first + i * spacing - offset)
            .take_while(|&ms| ms <= b)
            .filter_map(|ms| Timestamp::from_millisecond(ms).ok())
            .map(|ts| Tick {
                ts,
                label: label(ts, tz, spacing),
            })
            .collect();
        if out.len() >= 2 {
            return if crosses { with_zones(out, tz) } else { out };
        }
        break;
    }
    // A span too short for two round ticks: its two ends, to the millisecond.
    let mut out = vec![Tick {
        ts: start,
        label: label(start, tz, 1),
    }];
    if end > start && 2.0 * (text_width(&out[0].label, size) + GAP) <= width {
        out.push(Tick {
            ts: end,
            label: label(end, tz, 1),
        });
    }
    out
}

/// The ticks with their zone's name added to the first one and wherever it changes.
fn with_zones(ticks: Vec<Tick>, tz: &TimeZone) -> Vec<Tick> {
    let mut last = String::new();
    ticks
        .into_iter()
        .map(|mut tick| {
            let zone = tick.ts.to_zoned(tz.clone()).strftime("%Z").to_string();
            if zone != last {
                tick.label = format!("{} {zone}", tick.label);
                last = zone;
            }
            tick
        })
        .collect()
}

/// A clock time as precise as the interval between ticks needs.
fn label(ts: Timestamp, tz: &TimeZone, spacing: i64) -> String {
    let zoned = ts.to_zoned(tz.clone());
    match spacing {
        s if s < 100 => format!(
            "{}.{:03}",
            zoned.strftime("%H:%M:%S"),
            zoned.subsec_nanosecond() / 1_000_000
        ),
        s if s < 1_000 => format!(
            "{}.{}",
            zoned.strftime("%H:%M:%S"),
            zoned.subsec_nanosecond() / 100_000_000
        ),
        s if s < 60_000 => zoned.strftime("%H:%M:%S").to_string(),
        s if s < 86_400_000 => zoned.strftime("%H:%M").to_string(),
        _ => zoned.strftime("%b %-d").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn minutes_in_the_reports_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let t = ticks(
            ts("2020-11-16T13:02:39.120Z"),
            ts("2020-11-16T13:31:07Z"),
            &ny,
            880.0,
            10.0,
        );
        assert_eq!(labels(&t)[..3], ["08:04", "08:06", "08:08"]);
        assert_eq!(t.last().unwrap().label, "08:30");
        assert_eq!(t[0].ts, ts("2020-11-16T13:04:00Z"));
    }

    #[test]
    fn seconds_for_a_short_run() {
        let utc = TimeZone::UTC;
        let t = ticks(
            ts("2020-11-16T13:02:39.120Z"),
            ts("2020-11-16T13:02:41.034Z"),
            &utc,
            880.0,
            10.0,
        );
        assert_eq!(labels(&t)[..2], ["13:02:39.2", "13:02:39.4"]);
        assert!(t.len() <= 10);
    }

    #[test]
    fn a_zone_with_a_half_hour_offset_still_gets_round_times() {
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let t = ticks(
            ts("2020-11-16T13:02:00Z"),
            ts("2020-11-16T15:10:00Z"),
            &kolkata,
            880.0,
            10.0,
        );
        assert!(t.iter().all(|t| t.label.ends_with('0')), "{t:?}");
        assert_eq!(t[0].label, "18:40");
    }

    #[test]
    fn the_hour_the_clocks_fall_back_names_its_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 00:00 EDT to 01:20 EST on 2020-11-01: 01:00 to 01:59 happens twice.
        let t = ticks(
            ts("2020-11-01T04:00:00Z"),
            ts("2020-11-01T06:20:00Z"),
            &ny,
            880.0,
            10.0,
        );
        let l = labels(&t);
        assert_eq!(l[0], "00:00 EDT");
        assert!(l.contains(&"01:00 EST"), "{l:?}");
        assert_eq!(l.iter().filter(|l| l.contains(' ')).count(), 2, "{l:?}");
    }

    #[test]
    fn an_instant_has_one_tick() {
        let at = ts("2020-11-16T13:02:39.120Z");
        assert_eq!(
            labels(&ticks(at, at, &TimeZone::UTC, 880.0, 10.0)),
            ["13:02:39.120"]
        );
    }
}
