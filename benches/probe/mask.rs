//! Figure 7: masking 1 MiB hostile bodies against several hostile secrets, in process.

use std::time::{Duration, Instant};

use super::Report;

/// The largest body the redactor is asked to mask (bodies are capped at 1 MiB before).
const HOSTILE_BYTES: usize = 1 << 20;

/// Bodies built to make a matcher backtrack (runs of the characters every escape starts with,
/// near-misses of a secret) against secrets made of those characters, all at once.
pub fn mask(report: &mut Report) {
    use runbook::redact::Redactor;
    let secrets = [
        "\\\\\\\\",
        "\\\"\\\"",
        "%%%%%%%%",
        "&&&&&&&&",
        "aaaaaaaaaaaaaaab",
        "zQ7-sEcr3t-t0kEn",
    ];
    let redactor = Redactor::new();
    for secret in secrets {
        redactor.add(secret);
    }
    let fill = |unit: &str| {
        let mut body = unit.repeat(HOSTILE_BYTES / unit.len());
        // Ends on an ellipsis, as a cut body does: every start before it is looked for too.
        body.push('…');
        body
    };
    let bodies = [
        ("backslashes", fill("\\")),
        ("%5c", fill("%5c")),
        ("%5C%22 (escaped quotes)", fill("%5C%22")),
        ("&#92; references", fill("&#92;")),
        ("near-misses of a secret", fill("aaaaaaaaaaaaaaa ")),
        ("base64 alphabet", fill("zQ7tc0VjcjN0LXQwa0Vu")),
    ];
    let section = "7. masking a 1 MiB hostile body, 6 hostile secrets (in process)";
    for (name, body) in &bodies {
        let started = Instant::now();
        let masked = redactor.redact(body);
        let ours = started.elapsed();
        // The peer: plain replacement of each secret, what a log masker without encoded
        // forms does.
        let started = Instant::now();
        let mut plain = body.clone();
        for secret in secrets {
            plain = plain.replace(secret, "***");
        }
        let peer = started.elapsed();
        println!(
            "mask {name}: {:.0} ms ({} -> {} bytes); plain replace {:.1} ms",
            ours.as_secs_f64() * 1000.0,
            body.len(),
            masked.len(),
            peer.as_secs_f64() * 1000.0
        );
        report.row(
            section,
            name,
            format!(
                "{:.0} ms (plain replace {:.1} ms)",
                ours.as_secs_f64() * 1000.0,
                peer.as_secs_f64() * 1000.0
            ),
            "< 1 s",
            ours < Duration::from_secs(1),
        );
    }
    println!();
}
