//! Durations as runbook authors write them (`500ms`, `2s`, `5m`, `1m 30s`, `1h`) and as people
//! read them (`12 ms`, `1.2 s`, `1m 30s`).

use std::time::Duration;

/// Parses `500ms`, `2s`, `1.5s`, `5m`, `1h`, `1m 30s` or `1m30s`. A bare number is rejected: a
/// unit-less timeout is the kind of ambiguity that costs minutes during an outage. Decimals
/// are exact (`8285722.498s` is that many milliseconds, not a nanosecond more), and nothing
/// longer than 366 days is accepted, in one term or in all of them together.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("a duration cannot be empty (write e.g. `500ms`, `2s`, `5m`)".into());
    }
    let too_long = || format!("`{trimmed}` is too long a duration");
    let mut total: u128 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(bad(trimmed));
        }
        let number = &rest[..number_len];
        // `5 s` reads like `5s`; `5 parsecs` then fails on its unit, not as "no unit".
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let unit_ns: u128 = match unit {
            "ms" => 1_000_000,
            "s" | "sec" | "secs" => 1_000_000_000,
            "m" | "min" | "mins" => 60_000_000_000,
            "h" | "hr" | "hrs" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "`{trimmed}` has no unit: write `{trimmed}s` or `{trimmed}ms`"
                ));
            }
            _ => return Err(bad(trimmed)),
        };
        let ns = decimal_times(number, unit_ns)
            .ok_or_else(|| bad(trimmed))?
            .ok_or_else(too_long)?;
        total += ns;
        if total > MAX_NS {
            return Err(too_long());
        }
    }
    Ok(Duration::from_nanos(total as u64))
}

/// The longest duration accepted: 366 days.
const MAX_NS: u128 = 366 * 86_400 * 1_000_000_000;

/// `number` (digits with at most one `.`) times `unit_ns`, in whole nanoseconds, computed
/// exactly. `None`: not a number; `Some(None)`: more than [`MAX_NS`].
fn decimal_times(number: &str, unit_ns: u128) -> Option<Option<u128>> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 16 {
        return Some(None);
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // Digits past the 18th are below a nanosecond for every unit.
    let fraction = &fraction[..fraction.len().min(18)];
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let ns = whole * unit_ns + fraction * unit_ns / scale;
    Some((ns <= MAX_NS).then_some(ns))
}

fn bad(text: &str) -> String {
    format!("`{text}` is not a duration (write e.g. `500ms`, `2s`, `5m`, `1m 30s`)")
}

/// A human rendering: `850 ms`, `1.2 s`, `12 s`, `1m 30s`, `2h 5m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{} ms", ms.round() as u64)
    } else if ms < 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 60_000.0 {
        format!("{} s", (ms / 1000.0).round() as u64)
    } else {
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        match (h, s) {
            (0, 0) => format!("{m}m"),
            (0, _) => format!("{m}m {s}s"),
            _ => format!("{h}h {m}m"),
        }
    }
}

/// A human rendering of a latency in milliseconds.
pub fn human_ms(ms: f64) -> String {
    // A timeline is data: a latency beyond what a Duration holds must not panic a report.
    human(Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX))
}

/// The compact form used in runbooks (`500ms`, `2s`, `1m30s`), for `show` and messages.
pub fn compact(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        let secs = d.as_secs();
        match (secs / 3600, (secs % 3600) / 60, secs % 60) {
            (0, 0, s) => format!("{s}s"),
            (0, m, 0) => format!("{m}m"),
            (0, m, s) => format!("{m}m{s}s"),
            (h, 0, 0) => format!("{h}h"),
            (h, m, s) => format!("{h}h{m}m{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_written_forms() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn rejects_nonsense() {
        for text in ["", "5", "s", "5 parsecs", "1.2.3s", "-1s", "ms5"] {
            assert!(parse(text).is_err(), "{text:?} should not parse");
        }
        assert!(parse("5").unwrap_err().contains("no unit"));
        assert!(!parse("5 parsecs").unwrap_err().contains("no unit"));
        assert_eq!(parse("5 s").unwrap(), Duration::from_secs(5));
        assert!(parse("8784h 8784h").unwrap_err().contains("too long"));
        assert!(
            parse("99999999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(
            parse("8285722498ms").unwrap(),
            Duration::from_millis(8_285_722_498)
        );
        assert_eq!(
            parse("1165.296h").unwrap().as_nanos(),
            4_195_065_600_000_000
        );
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("5.s").unwrap(), Duration::from_secs(5));
        assert!(parse(".s").is_err());
    }

    #[test]
    fn renders_for_people() {
        assert_eq!(human(Duration::from_millis(12)), "12 ms");
        assert_eq!(human(Duration::from_millis(1200)), "1.2 s");
        assert_eq!(human(Duration::from_secs(90)), "1m 30s");
        assert_eq!(compact(Duration::from_millis(1500)), "1500ms");
        assert_eq!(compact(Duration::from_secs(90)), "1m30s");
        // A latency read from a timeline can be anything.
        assert_eq!(human_ms(f64::NAN), "0 ms");
        assert!(human_ms(3.9e83).ends_with('m'));
        for d in ["500ms", "2s", "5m", "1m30s", "1h"] {
            assert_eq!(compact(parse(d).unwrap()), d);
        }
    }
}
