//! Expressions (`when`, `expect`, `loop`) and `{{ }}` templates: checked, then evaluated or
//! rendered against a fixed context like the one a step sees. The first byte picks the kind.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use minijinja::Value;
use runbook::expr;

fn context() -> &'static Value {
    static CTX: OnceLock<Value> = OnceLock::new();
    CTX.get_or_init(|| {
        expr::context(&serde_json::json!({
            "vars": {
                "launchpad_lb": "http://127.0.0.1:8080/lb/launchpad",
                "max_5xx_rate": 0.02,
                "max_p95_ms": 2000,
                "reference_sites": ["http://a.example", "http://b.example"],
                "enabled": true,
                "empty": [],
                "nested": {"a": {"b": [1, 2, {"c": null}]}}
            },
            "secrets": {"TOKEN": "s3cr3t-value"},
            "steps": {
                "sample": {
                    "outcome": "failed", "passed": false, "summary": "502 rate 38% (23/60)",
                    "rate_5xx": 0.38, "p95_ms": 120.5, "count": 60, "duration_ms": 131,
                    "status_counts": {"200": 37, "502": 23}, "errors": {}
                },
                "cpu": {
                    "outcome": "passed", "passed": true, "value": 0.26,
                    "values": [
                        {"labels": {"group": "api"}, "value": 0.26},
                        {"labels": {"group": "frontend"}, "value": 0.12}
                    ]
                }
            },
            "item": "http://a.example",
            "rate_5xx": 0.38, "p95_ms": null, "status": 502, "body": "<html>bad gateway</html>",
            "json": {"ok": false, "items": [1, 2, 3]}, "headers": {"content-type": "text/html"}
        }))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(rest) else {
        return;
    };
    let ctx = context();
    if kind % 2 == 0 {
        if expr::check_expression(source).is_ok() {
            if let Ok(value) = expr::eval(source, ctx) {
                let _ = expr::to_json(&value);
            }
            let _ = expr::eval_bool(source, ctx);
        }
    } else if expr::check_template(source).is_ok() {
        let _ = expr::render(source, ctx);
    }
});
