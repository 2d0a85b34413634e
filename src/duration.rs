//! Durations as runbook authors write them (`500ms`, `2s`, `5m`, `1m 30s`, `1h`) and as people
//! read them (`12 ms`, `1.2 s`, `1m 30s`).

use std::time::Duration;

/// Parses `500ms`, `2s`, `1.5s`, `5m`, `1h`, `1m 30s` or `1m30s`. A bare number is rejected: a
/// unit-less timeout is the kind of ambiguity that costs minutes during an outage.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("a duration cannot be empty (write e.g. `500ms`, `2s`, `5m`)".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(bad(trimmed));
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad(trimmed))?;
        // `5 s` reads like `5s`; `5 parsecs` then fails on its unit, not as "no unit".
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let seconds_per_unit = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "" => {
                return Err(format!(
                    "`{trimmed}` has no unit: write `{trimmed}s` or `{trimmed}ms`"
                ));
            }
            _ => return Err(bad(trimmed)),
        };
        let secs = number * seconds_per_unit;
        if !secs.is_finite() || secs > 86_400.0 * 366.0 {
            return Err(format!("`{trimmed}` is too long a duration"));
        }
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
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
    human(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
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
    }

    #[test]
    fn renders_for_people() {
        assert_eq!(human(Duration::from_millis(12)), "12 ms");
        assert_eq!(human(Duration::from_millis(1200)), "1.2 s");
        assert_eq!(human(Duration::from_secs(90)), "1m 30s");
        assert_eq!(compact(Duration::from_millis(1500)), "1500ms");
        assert_eq!(compact(Duration::from_secs(90)), "1m30s");
        for d in ["500ms", "2s", "5m", "1m30s", "1h"] {
            assert_eq!(compact(parse(d).unwrap()), d);
        }
    }
}
