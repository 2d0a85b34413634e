//! Redirects chosen by the server asked: an action is never re-sent to another origin, and a
//! check goes there without anything the runbook set (issue 12).

use crate::support::{Server, Test};

/// A 307 would carry an action's POST, its JSON body with a token and its `x-api-key` to
/// whatever host the server names: the step fails instead, and nothing arrives there.
#[test]
fn an_action_is_not_redirected_to_another_host() {
    let server = Server::start();
    let other = Server::start();
    let elsewhere = format!("{}/echo", other.url());
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: deploy
                title: Deploy
                action: true
                http:
                  method: POST
                  url: "$SERVER/redirect307-to?{elsewhere}"
                  headers: {{x-api-key: "k3y-for-the-first-host"}}
                  json: {{token: "t0ken-for-the-first-host"}}
                  timeout: 2s
            "#
        ))
        .args(["run", "--yes"])
        .run()
        .status(1);
    let expected = format!("redirected to another host ({elsewhere}); not followed for an action");
    let finished = out.finished("deploy");
    assert_eq!(finished["outcome"], "error");
    assert_eq!(finished["summary"], expected.as_str());
    assert!(out.stdout.contains(&expected) || out.stderr.contains(&expected));
    assert_eq!(server.count("/redirect307-to"), 1);
    assert!(
        other.requests().is_empty(),
        "the other host received {:?}",
        other.requests()
    );
}

/// Within the origin an action's redirect is still followed, headers and body included.
#[test]
fn an_action_follows_a_redirect_within_its_origin() {
    let server = Server::start();
    let out = Test::new()
        .server(&server)
        .runbook(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: deploy
                title: Deploy
                action: true
                http:
                  method: POST
                  url: "$SERVER/redirect307-to?/echo"
                  headers: {x-api-key: "k3y"}
                  json: {token: "t0ken"}
                  timeout: 2s
            "#,
        )
        .args(["run", "--yes"])
        .run()
        .status(0);
    out.outcome("deploy", "passed");
    let arrived = server.requests_to("/echo");
    assert_eq!(arrived.len(), 1);
    assert_eq!(arrived[0].method, "POST");
    assert_eq!(arrived[0].header("x-api-key"), Some("k3y"));
    assert!(arrived[0].body.contains("t0ken"));
}

/// A check follows a redirect to another origin, but bare: none of its headers (not only
/// `Authorization`), no credentials of its URL. Both paths: one request (reqwest) and a sample
/// (the fast sampler).
#[test]
fn a_check_follows_another_host_without_the_runbooks_headers() {
    let server = Server::start();
    let other = Server::start();
    let elsewhere = format!("{}/echo", other.url());
    let with_credentials = server.url().replace("http://", "http://user:pa55word@");
    let out = Test::new()
        .server(&server)
        .runbook(&format!(
            r#"
            name: redirects
            title: Redirects
            steps:
              - id: single
                title: One request
                http:
                  url: "{with_credentials}/redirect-to?{elsewhere}"
                  headers: {{x-api-key: "k3y", Cookie: "session=s3ss", Authorization: "Bearer t0ken", X-Trace: "tr4ce"}}
                  timeout: 2s
              - id: sampled
                title: A sample
                http:
                  url: "$SERVER/redirect-to?{elsewhere}"
                  samples: 3
                  headers: {{x-api-key: "k3y", Cookie: "session=s3ss", Authorization: "Bearer t0ken", X-Trace: "tr4ce"}}
                  timeout: 2s
                expect: "status_counts == {{'200': 3}}"
            "#
        ))
        .args(["run"])
        .run()
        .status(0);
    out.outcome("single", "passed");
    out.outcome("sampled", "passed");
    let arrived = other.requests_to("/echo");
    assert_eq!(arrived.len(), 4);
    for request in &arrived {
        for name in ["x-api-key", "cookie", "authorization", "x-trace"] {
            assert_eq!(request.header(name), None, "{name} in {request:?}");
        }
    }
    // The first host got them, as written.
    let first = server.requests_to("/redirect-to");
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|r| r.header("x-api-key") == Some("k3y")));
    assert!(first[0].header("authorization").is_some());
}
