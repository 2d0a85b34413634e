//! The reason a failed HTTP step was refused is usually in the answer's body (`{"error":"field
//! 'region' is required"}`): its start goes into the step's summary, so the console, the guided
//! view and every report show it, not only the JSON timeline.

use serde_json::{Map, Value as Json};

use crate::redact::Redactor;

/// How many characters of the body the summary shows.
pub(super) const SHOWN_CHARS: usize = 200;

/// `400 Bad Request in 3 ms; body: {"error":"…"}`: `summary` with the start of the answer's
/// body in `fields`, or `summary` alone when nothing answered or the body was empty.
///
/// The body is the last answer's (`body`). A single request's answer is shown whatever its
/// status (an expectation on a 200 may have failed); a sample's only when that last answer was
/// refused (400 or more): a probe failing 40% whose last answer was a healthy page would
/// otherwise show that page as the reason.
///
/// Masked before it is cut: a secret the server echoed that straddles the cut would otherwise
/// leave its first characters unmasked. Whitespace runs (newlines included) become one space so
/// the summary stays one line; other control characters are escaped as everywhere else.
pub(super) fn with_body(
    summary: String,
    fields: &Map<String, Json>,
    redactor: &Redactor,
) -> String {
    let Some(body) = fields.get("body").and_then(Json::as_str) else {
        return summary;
    };
    let single = fields
        .get("count")
        .and_then(Json::as_u64)
        .is_none_or(|n| n <= 1);
    let refused = fields
        .get("status")
        .and_then(Json::as_u64)
        .is_some_and(|s| s >= 400);
    if !single && !refused {
        return summary;
    }
    let masked = redactor.redact(body);
    let collapsed = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return summary;
    }
    let mut start: String = collapsed.chars().take(SHOWN_CHARS).collect();
    if start.len() < collapsed.len() {
        start.push('…');
    }
    format!("{summary}; body: {}", crate::escape::controls(&start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Json) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("body".into(), body);
        m
    }

    #[test]
    fn the_start_of_the_body_is_masked_collapsed_and_escaped() {
        let redactor = Redactor::new();
        redactor.add("hunter2-secret");
        let body = json!("{\"error\": \"bad token hunter2-secret\",\n\t\"hint\": \"\u{1b}[2J\"}");
        assert_eq!(
            with_body("400 Bad Request in 3 ms".into(), &fields(body), &redactor),
            "400 Bad Request in 3 ms; body: {\"error\": \"bad token ***\", \"hint\": \"\\x1b[2J\"}"
        );
    }

    #[test]
    fn a_long_body_is_cut_after_masking() {
        let redactor = Redactor::new();
        let secret = "s3cret-value-that-straddles";
        redactor.add(secret);
        // The secret begins at character 190: cut first, its first 10 characters would show.
        let body = format!("{}{secret} and more", "a".repeat(190));
        let shown = with_body("400".into(), &fields(json!(body)), &redactor);
        assert!(!shown.contains("s3cret"), "{shown}");
        // 190 + 3 + 7: the mask counts as what is shown.
        assert_eq!(shown, format!("400; body: {}*** and mo…", "a".repeat(190)));
        let long = "b".repeat(500);
        let shown = with_body("400".into(), &fields(json!(long)), &redactor);
        assert_eq!(shown, format!("400; body: {}…", "b".repeat(SHOWN_CHARS)));
    }

    #[test]
    fn a_sample_shows_its_last_answer_only_when_it_was_refused() {
        let redactor = Redactor::new();
        let sample = |status: u64| {
            let mut m = fields(json!("<h1>page</h1>"));
            m.insert("count".into(), json!(60));
            m.insert("status".into(), json!(status));
            m
        };
        assert_eq!(
            with_body("failed 40%".into(), &sample(200), &redactor),
            "failed 40%"
        );
        assert_eq!(
            with_body("failed 40%".into(), &sample(502), &redactor),
            "failed 40%; body: <h1>page</h1>"
        );
        // One request: its answer, whatever its status.
        let mut one = fields(json!("{\"state\":\"degraded\"}"));
        one.insert("count".into(), json!(1));
        one.insert("status".into(), json!(200));
        assert_eq!(
            with_body("200 OK".into(), &one, &redactor),
            "200 OK; body: {\"state\":\"degraded\"}"
        );
    }

    #[test]
    fn no_body_or_an_empty_one_adds_nothing() {
        let redactor = Redactor::new();
        for body in [Json::Null, json!(""), json!(" \n ")] {
            assert_eq!(with_body("502".into(), &fields(body), &redactor), "502");
        }
        assert_eq!(with_body("502".into(), &Map::new(), &redactor), "502");
    }
}
