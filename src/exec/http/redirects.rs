//! Which redirects an `http` step follows, and what goes along with them.
//!
//! A redirect is chosen by the server being asked, which during an outage may be broken,
//! misconfigured or hostile. The step's headers (`Authorization`, `x-api-key`, cookies, anything
//! under `headers:`), the credentials of its URL and its body were written for the origin the
//! runbook names, so:
//! - within that origin (same scheme, host and port) a redirect is followed as reqwest follows
//!   it, everything included;
//! - an action is never re-sent to another origin: the step fails with
//!   `redirected to another host (URL); not followed for an action`, and nothing reaches it;
//! - a check is re-sent to another origin bare: no header the runbook set, no URL credentials
//!   (reqwest itself only drops `Authorization`, `Cookie` and their proxy forms).

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, Method, Response, StatusCode, Url, redirect};

use super::build_request;
use crate::exec::{HttpRequest, RequestBody};

/// How many redirects one request follows, as reqwest's default policy.
const MAX_HOPS: usize = 10;

/// The redirect rule of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// `follow_redirects: false`: the redirect is the answer.
    Never,
    /// Followed; another origin only bare, re-sent by the caller (see [`Resend`]).
    Check,
    /// Followed within the origin; another origin fails the step.
    Action,
}

impl Redirects {
    pub(crate) fn for_step(req: &HttpRequest) -> Self {
        match (req.follow_redirects, req.action) {
            (false, _) => Redirects::Never,
            (true, false) => Redirects::Check,
            (true, true) => Redirects::Action,
        }
    }

    /// reqwest's policy for this rule. It stops a check at another origin (the response is the
    /// redirect; [`follow_bare`] takes it from there) because a policy cannot change headers.
    pub(crate) fn policy(self) -> redirect::Policy {
        match self {
            Redirects::Never => redirect::Policy::none(),
            Redirects::Check | Redirects::Action => redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_HOPS {
                    return attempt.error(TooManyRedirects);
                }
                let same = attempt
                    .previous()
                    .first()
                    .is_none_or(|first| same_origin(first, attempt.url()));
                match (same, self) {
                    (true, _) => attempt.follow(),
                    (false, Redirects::Action) => {
                        let target = attempt.url().clone();
                        attempt.error(RefusedRedirect(target))
                    }
                    (false, _) => attempt.stop(),
                }
            }),
        }
    }
}

/// Same scheme, host and port (a missing port is the scheme's default).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;

/// An action's request redirected to another origin.
#[derive(Debug, thiserror::Error)]
#[error("redirected to another host ({0}); not followed for an action")]
pub(crate) struct RefusedRedirect(pub Url);

/// Whether a transport message is the refusal of [`RefusedRedirect`]: the step fails with it
/// instead of recording it as a request that got no answer.
pub(crate) fn is_refusal(message: &str) -> bool {
    message.starts_with("redirected to another host (")
        && message.ends_with("); not followed for an action")
}

/// What a check re-sends to another origin: its method and body, never its headers.
#[derive(Clone, Copy)]
pub(crate) struct Resend<'a> {
    pub client: &'a Client,
    pub method: &'a Method,
    pub body: Option<&'a RequestBody>,
}

impl Resend<'_> {
    /// Follows the redirects to other origins that the policy stopped at, each one bare, until
    /// an answer that is not one (or [`MAX_HOPS`] of them, when the redirect is the answer).
    pub(crate) async fn follow_bare(&self, mut response: Response) -> reqwest::Result<Response> {
        for _ in 0..MAX_HOPS {
            let Some(target) = cross_origin_target(&response) else {
                break;
            };
            let (method, body) = after_redirect(response.status(), self.method, self.body);
            response = build_request(self.client, &method, &target, &HeaderMap::new(), body)
                .send()
                .await?;
        }
        Ok(response)
    }
}

/// A redirect to another origin that reqwest would have followed: its target, without
/// credentials.
fn cross_origin_target(response: &Response) -> Option<Url> {
    let target = redirect_target(response.url(), response.status(), response.headers())?;
    (!same_origin(response.url(), &target)).then_some(target)
}

/// Where a redirect reqwest follows leads: 301, 302, 303, 307 or 308 with a `Location` that
/// resolves to an http(s) URL. Credentials in it are dropped: they would become a header.
pub(crate) fn redirect_target(base: &Url, status: StatusCode, headers: &HeaderMap) -> Option<Url> {
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    let mut target = base.join(location).ok()?;
    if !matches!(target.scheme(), "http" | "https") {
        return None;
    }
    let _ = target.set_username("");
    let _ = target.set_password(None);
    Some(target)
}

/// The method and body after a redirect, as reqwest decides them: 301, 302 and 303 turn
/// anything but HEAD into a GET without a body; 307 and 308 keep both.
pub(crate) fn after_redirect<'a>(
    status: StatusCode,
    method: &Method,
    body: Option<&'a RequestBody>,
) -> (Method, Option<&'a RequestBody>) {
    match status {
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => (method.clone(), body),
        _ if *method == Method::HEAD => (Method::HEAD, None),
        _ => (Method::GET, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(&url("http://a:80/x"), &url("http://a/y?z")));
        assert!(!same_origin(&url("http://a/"), &url("https://a/")));
        assert!(!same_origin(&url("http://a:1/"), &url("http://a:2/")));
        assert!(!same_origin(
            &url("http://127.0.0.1/"),
            &url("http://localhost/")
        ));
    }

    #[test]
    fn the_refusal_is_known_by_its_message() {
        let message = RefusedRedirect(Url::parse("http://b:1/x").unwrap()).to_string();
        assert_eq!(
            message,
            "redirected to another host (http://b:1/x); not followed for an action"
        );
        assert!(is_refusal(&message));
        assert!(!is_refusal("connection refused"));
    }

    #[test]
    fn a_target_loses_its_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, "http://u:p@b/x".parse().unwrap());
        let base = Url::parse("http://a/").unwrap();
        let target = redirect_target(&base, StatusCode::FOUND, &headers).unwrap();
        assert_eq!(target.as_str(), "http://b/x");
        assert_eq!(redirect_target(&base, StatusCode::OK, &headers), None);
    }
}
