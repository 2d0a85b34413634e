//! The scenario parser of the simulator (`runbook sim FILE`, `runbook drill --scenario FILE`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(err) = runbook::sim::scenario::from_text("fuzz.yaml", &text) {
        assert!(err.message.starts_with("fuzz.yaml:"), "{}", err.message);
    }
});
