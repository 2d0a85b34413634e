//! The timeline reader (`runbook timeline`, `--resume`, `runbook note`): any bytes give events,
//! problems with line numbers, or a torn tail, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = runbook::timeline::reader::parse_lines(&text);
    let lines = text.split('\n').count();
    for (line, _, _) in &parsed.problems {
        assert!(
            *line >= 1 && *line <= lines,
            "problem on line {line} of {lines}"
        );
    }
});
