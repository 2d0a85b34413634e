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
    fn no_body_or_an_empty_one_adds_nothing() {
        let redactor = Redactor::new();
        for body in [Json::Null, json!(""), json!(" \n ")] {
            assert_eq!(with_body("502".into(), &fields(body), &redactor), "502");
        }
        assert_eq!(with_body("502".into(), &Map::new(), &redactor), "502");
    }
}
