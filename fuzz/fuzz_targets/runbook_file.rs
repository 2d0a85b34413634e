//! The runbook parser and validator, as `runbook validate` and `runbook run` use them: any
//! bytes either load or come back as located diagnostics that render without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Non-UTF-8 input is rejected before parsing (`load`); its lossy text still exercises the
    // parser on replacement characters.
    let text = String::from_utf8_lossy(data).into_owned();
    match runbook::runbook::from_text("fuzz.yaml", text) {
        Ok(book) => {
            assert!(!book.steps.is_empty(), "a loaded runbook has steps");
        }
        Err(err) => {
            let rendered = err.render();
            assert!(rendered.starts_with("fuzz.yaml:"), "{rendered}");
        }
    }
});
