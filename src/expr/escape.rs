//! Escaping by where a value lands, decided once, in the rendering.
//!
//! A probed system is not trusted: a body, a header, a status page or a command's output can
//! hold `; touch PWNED` or `../../admin/delete-everything?x=`. So every value a template
//! writes is escaped for where the text goes, unless it is trusted:
//!
//! - trusted values are those the author or the operator wrote: the runbook's literal text
//!   (also string literals inside `{{ }}`, see [`trust_literals`]), `vars` (with `--var` and
//!   `--vars`), `secrets`, the answers of manual steps, and loop items that come from those.
//!   They enter the context as MiniJinja *safe* strings ([`trusted`]); joining safe strings
//!   (`~`, `join`) keeps them safe, other filters (`| trim`) do not.
//! - everything else is untrusted: `steps.*`, loop items computed from them, and any value
//!   computed from data by a filter or an operator (`steps.x.body | upper`, `'a' ~ x`), which
//!   MiniJinja returns as a plain string. `| safe` marks a value trusted, on purpose.
//!
//! Each template is rendered under a [`Landing`], which MiniJinja's auto-escape callback turns
//! into an escape mode; the one formatter ([`format`]) writes safe strings as they are and
//! escapes the rest for the mode:
//!
//! - [`Landing::Shell`] (`shell:` of command steps): a shell word that stands for the value
//!   alone, whatever quotes around it the author wrote. Untrusted values are written as
//!   placeholders; once the whole command is rendered, a small shell lexer finds where each
//!   placeholder stands (bare, inside `'...'`, inside `"..."`, inside `$(...)`, in a comment)
//!   and writes the value escaped for that place. Inside backticks or after `<<` (a
//!   here-document) there is no sure escape: the step stops with an error.
//! - [`Landing::Url`] (the `url` of http, prometheus and statuspage steps): percent-encoded as
//!   one path segment or query value: everything but letters, digits, `-`, `_` and `~` is
//!   encoded (`/`, `?`, `#`, `:`, `@`, `.`, `%`), and a value that is only `.` or `..` (a
//!   segment URL parsers resolve even encoded) is refused.
//! - [`Landing::Address`] (the `address` of tcp steps): an untrusted value must be a host name
//!   or an IP address (letters, digits, `.`, `-`, `_`): it can never add a port.
//! - [`Landing::Text`] (everything else: `argv` items, `env`, `cwd`, headers, bodies, queries,
//!   prometheus `bearer`, `basic_auth`, `time` and `end`, instructions): written as it is.
//!   `argv` items are separate arguments, no shell reads them; bodies and queries are data (a
//!   query is form-encoded into the body); a header value with CR or LF, a `bearer` token with
//!   one, is refused when the request is built (`basic_auth` is base64 in its header).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

use base64::Engine as _;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{AutoEscape, Error, ErrorKind, Output, State, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value as Json;

use super::bounded::check_size;

/// Where a rendered template's text goes, which decides how untrusted values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landing {
    /// Text taken as it is: argv items, env, headers, bodies, queries, instructions.
    Text,
    /// A command line that `sh -c` parses.
    Shell,
    /// A URL.
    Url,
    /// A tcp `host:port`.
    Address,
}

const SHELL: &str = "shell";
const URL: &str = "url";
const ADDRESS: &str = "address";

impl Landing {
    /// The template name the landing is rendered under; the auto-escape callback reads it.
    /// Names in `<>` are left out of error messages (see `describe`).
    pub(super) fn template_name(self) -> &'static str {
        match self {
            Landing::Text => "<string>",
            Landing::Shell => "<shell>",
            Landing::Url => "<url>",
            Landing::Address => "<address>",
        }
    }
}

/// The auto-escape callback: the escape mode of a template, from its name.
pub(super) fn auto_escape(name: &str) -> AutoEscape {
    match name {
        "<shell>" => AutoEscape::Custom(SHELL.into()),
        "<url>" => AutoEscape::Custom(URL.into()),
        "<address>" => AutoEscape::Custom(ADDRESS.into()),
        // Rendered text goes to commands, requests and logs, never into HTML.
        _ => AutoEscape::None,
    }
}

fn landing_of(state: &State) -> Landing {
    match state.auto_escape() {
        AutoEscape::Custom(name) => match name.as_ref() {
            SHELL => Landing::Shell,
            URL => Landing::Url,
            ADDRESS => Landing::Address,
            _ => Landing::Text,
        },
        _ => Landing::Text,
    }
}

/// A value as text: a string as it is, anything else as MiniJinja prints it.
fn text_of(value: &Value) -> Cow<'_, str> {
    match value.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(value.to_string()),
    }
}

fn refuse(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// The formatter: how every `{{ }}` is written.
pub(super) fn format(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    let landing = landing_of(state);
    let text = match value.as_str() {
        Some(s) => Cow::Borrowed(s),
        // Undefined and none as MiniJinja writes them (an error under `SemiStrict`, `none`).
        None if value.is_undefined() || value.is_none() => {
            return minijinja::escape_formatter(out, &mut *state, value);
        }
        None => Cow::Owned(super::bounded::display(value)?),
    };
    if value.is_safe() || landing == Landing::Text {
        return out.write_str(&text).map_err(Error::from);
    }
    let number = matches!(value.kind(), ValueKind::Number | ValueKind::Bool);
    let written = match landing {
        Landing::Text => unreachable!("written above"),
        Landing::Shell => shell_placeholder(&text)?,
        // A number or a boolean prints as digits, a sign, `.`, `e` or a word: nothing that
        // changes a URL or an address.
        Landing::Url | Landing::Address if number => text.into_owned(),
        Landing::Url => url_component(&text)?,
        Landing::Address => address_part(&text)?.to_string(),
    };
    out.write_str(&written).map_err(Error::from)
}

/// What may stay as it is in a path segment or a query value: letters, digits, `-`, `_`, `~`.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A value as one path segment or query value.
pub fn url_component(text: &str) -> Result<String, Error> {
    // `%2e%2e` is `..` to a URL parser (WHATWG): no encoding of a dot segment is safe.
    if text == "." || text == ".." {
        return Err(refuse(format!(
            "a value read from a step (`{text}`) would change the URL's path"
        )));
    }
    check_size(text.len().saturating_mul(3), "the percent-encoded value")?;
    Ok(utf8_percent_encode(text, URL_COMPONENT).to_string())
}

fn address_part(text: &str) -> Result<&str, Error> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Ok(text);
    }
    Err(refuse(
        "a value read from a step may only be a host name or an IP address in a tcp address \
         (letters, digits, `.`, `-`, `_`), so that it cannot change the port",
    ))
}

/// The template with each string literal marked safe: `'...'` in `{{ }}` is runbook text,
/// written by the author, as trusted as the text around it. (MiniJinja, like Jinja2, treats
/// literals as unsafe, so `join(' ')` in a shell command would quote the space.) `'x'` becomes
/// `('x'|safe)`; a source that does not tokenize is returned as it is, for the compiler to
/// report.
pub(super) fn trust_literals(source: &str) -> Cow<'_, str> {
    use minijinja::machinery::{Token, tokenize};
    let mut spans = Vec::new();
    for token in tokenize(source, false, minijinja::syntax::SyntaxConfig::default()) {
        let Ok((token, span)) = token else {
            return Cow::Borrowed(source);
        };
        if matches!(token, Token::Str(_) | Token::String(_)) {
            spans.push((span.start_offset as usize, span.end_offset as usize));
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + spans.len() * 8);
    let mut at = 0;
    for (start, end) in spans {
        let (Some(before), Some(literal)) = (source.get(at..start), source.get(start..end)) else {
            return Cow::Borrowed(source);
        };
        out.push_str(before);
        out.push('(');
        out.push_str(literal);
        out.push_str("|safe)");
        at = end;
    }
    out.push_str(&source[at..]);
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------------
// Shell

/// Opens and closes a placeholder: private-use characters, which no case change alters.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

thread_local! {
    /// The untrusted values of the shell command being rendered, in placeholder order. A
    /// render runs on one thread from start to end: [`finish_shell`] takes them back.
    static SHELL_VALUES: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

fn shell_placeholder(text: &str) -> Result<String, Error> {
    if text.contains('\0') {
        return Err(refuse(
            "a value read from a step holds a NUL byte, which no shell command can carry",
        ));
    }
    check_size(text.len().saturating_mul(4), "the shell-quoted value")?;
    SHELL_VALUES.with(|values| match values.borrow_mut().as_mut() {
        Some(values) => {
            values.push(text.to_string());
            Ok(format!("{OPEN}{}{CLOSE}", values.len() - 1))
        }
        // Outside a shell render (cannot happen: the landing names one).
        None => shell_word(text),
    })
}

/// Starts collecting the untrusted values of a shell render.
pub(super) fn start_shell() {
    SHELL_VALUES.with(|v| *v.borrow_mut() = Some(Vec::new()));
}

/// Ends a shell render: every placeholder replaced by its value, escaped for where it stands.
/// The outer error is the escaping's; the inner one the render's, passed through.
pub(super) fn finish_shell(
    rendered: Result<String, Error>,
) -> Result<Result<String, Error>, String> {
    let values = SHELL_VALUES
        .with(|v| v.borrow_mut().take())
        .unwrap_or_default();
    let Ok(rendered) = rendered else {
        return Ok(rendered);
    };
    if values.is_empty() && !rendered.contains(OPEN) {
        return Ok(Ok(rendered));
    }
    substitute(&rendered, &values).map(Ok)
}

/// Where a placeholder stands in a shell command.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    /// Unquoted, also inside `$( )`: a quoted word.
    Bare,
    /// Inside the author's `'...'`.
    Single,
    /// Inside the author's `"..."`.
    Double,
    /// In a `#` comment, up to the end of the line.
    Comment,
    /// Inside backticks, or after `<<`: no escape is sure.
    Unsure,
}

/// The shell lexer's state: a stack, since `"$(x "y")"` nests.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Frame {
    Bare,
    /// `$( )`, with how many `(` are open inside it.
    Sub(usize),
    Single,
    Double,
    Backtick,
    Comment,
}

fn substitute(rendered: &str, values: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(rendered.len());
    let mut stack = vec![Frame::Bare];
    let mut heredoc = false;
    let mut chars = rendered.char_indices().peekable();
    let mut prev: Option<char> = None;
    // A backslash just before a placeholder would escape the value's first character (its
    // opening quote): no escape is sure there.
    let mut escaped = false;
    while let Some((at, c)) = chars.next() {
        if c == OPEN {
            let rest = &rendered[at + c.len_utf8()..];
            let index = rest
                .find(CLOSE)
                .and_then(|end| rest[..end].parse::<usize>().ok().map(|i| (i, end)));
            let Some((index, end)) = index.filter(|(i, _)| *i < values.len()) else {
                return Err("shell: the command holds a stray placeholder character".into());
            };
            let top = *stack.last().unwrap_or(&Frame::Bare);
            let place = match top {
                _ if heredoc || escaped => Place::Unsure,
                Frame::Bare | Frame::Sub(_) => Place::Bare,
                Frame::Single => Place::Single,
                Frame::Double => Place::Double,
                Frame::Comment => Place::Comment,
                Frame::Backtick => Place::Unsure,
            };
            out.push_str(&escape_at(&values[index], place)?);
            // Skip the digits and the closing character.
            let skip_to = at + c.len_utf8() + end + CLOSE.len_utf8();
            while chars.peek().is_some_and(|(i, _)| *i < skip_to) {
                chars.next();
            }
            // A quoted word is a word: what follows is not at the start of one.
            prev = Some('x');
            escaped = false;
            continue;
        }
        escaped = false;
        out.push(c);
        let top = *stack.last().unwrap_or(&Frame::Bare);
        let next = chars.peek().map(|(_, n)| *n);
        match top {
            Frame::Bare | Frame::Sub(_) => match c {
                '\\' => escaped = escape_next(&mut chars, &mut out),
                '\'' => stack.push(Frame::Single),
                '"' => stack.push(Frame::Double),
                '`' => stack.push(Frame::Backtick),
                '$' if next == Some('(') => {
                    chars.next();
                    out.push('(');
                    stack.push(Frame::Sub(0));
                }
                '(' => {
                    if let Some(Frame::Sub(n)) = stack.last_mut() {
                        *n += 1;
                    }
                }
                ')' => match stack.last_mut() {
                    Some(Frame::Sub(0)) => {
                        stack.pop();
                    }
                    Some(Frame::Sub(n)) => *n -= 1,
                    _ => {}
                },
                '<' if next == Some('<') => heredoc = true,
                '#' if prev.is_none_or(|p| p.is_whitespace() || ";&|()".contains(p)) => {
                    stack.push(Frame::Comment)
                }
                _ => {}
            },
            Frame::Single if c == '\'' => {
                stack.pop();
            }
            Frame::Single => {}
            Frame::Double => match c {
                '\\' => escaped = escape_next(&mut chars, &mut out),
                '"' => {
                    stack.pop();
                }
                '`' => stack.push(Frame::Backtick),
                '$' if next == Some('(') => {
                    chars.next();
                    out.push('(');
                    stack.push(Frame::Sub(0));
                }
                _ => {}
            },
            Frame::Backtick => match c {
                '\\' => escaped = escape_next(&mut chars, &mut out),
                '`' => {
                    stack.pop();
                }
                _ => {}
            },
            Frame::Comment if c == '\n' => {
                stack.pop();
            }
            Frame::Comment => {}
        }
        prev = Some(c);
    }
    Ok(out)
}

/// After a backslash: the escaped character is copied, unless a placeholder comes next
/// (then the backslash escapes the value's first character, which the caller refuses).
fn escape_next(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    out: &mut String,
) -> bool {
    match chars.peek() {
        Some((_, OPEN)) => true,
        Some(_) => {
            if let Some((_, n)) = chars.next() {
                out.push(n);
            }
            false
        }
        None => false,
    }
}

fn escape_at(value: &str, place: Place) -> Result<String, String> {
    Ok(match place {
        Place::Bare => shell_word(value).map_err(|e| e.to_string())?,
        // Close the author's quote, write an escaped quote, open it again.
        Place::Single => value.replace('\'', r"'\''"),
        Place::Double => {
            let mut escaped = String::with_capacity(value.len());
            for c in value.chars() {
                if matches!(c, '\\' | '"' | '$' | '`') {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            escaped
        }
        Place::Comment if value.contains(['\n', '\r']) => {
            return Err(
                "shell: a value read from a step with a line break cannot stand in a comment"
                    .into(),
            );
        }
        Place::Comment => value.to_string(),
        Place::Unsure => {
            return Err(
                "shell: a value read from a step cannot be written safely inside backticks, \
                 after a backslash or in a here-document; pass it in `env:` and read it as \
                 \"$NAME\""
                    .into(),
            );
        }
    })
}

/// A value as one shell word, exactly as Ansible's `quote` (Python's `shlex.quote`) writes it:
/// as it is when it is only letters, digits and `@%+=:,./-_`, else in single quotes, with each
/// `'` written `'"'"'`. (The `shlex` crate mixes in double-quoted parts, which is as safe but
/// not what Ansible users read in a preview.)
fn shell_word(text: &str) -> Result<String, Error> {
    if text.contains('\0') {
        return Err(refuse("a NUL byte cannot be shell-quoted"));
    }
    if text.is_empty() {
        return Ok("''".into());
    }
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return Ok(text.to_string());
    }
    Ok(format!("'{}'", text.replace('\'', r#"'"'"'"#)))
}

/// [`shell_word`] for text that cannot hold a NUL (a path from the command line): the same
/// quoting, for the commands messages tell a person to type.
pub fn shell_quote(text: &str) -> String {
    shell_word(text).unwrap_or_else(|_| format!("'{}'", text.replace('\'', r#"'"'"'"#)))
}

// ---------------------------------------------------------------------------------------------
// Filters

/// `quote`: a value as one shell word. Inside `shell:` the value is left to the escaping of
/// where it stands (so `'{{ x | quote }}'` stays one word too); elsewhere it is quoted.
pub(super) fn quote(state: &State, value: &Value) -> Result<Value, Error> {
    let text = text_of(value);
    if landing_of(state) == Landing::Shell {
        return Ok(Value::from(text.into_owned()));
    }
    check_size(text.len().saturating_mul(4), "the shell-quoted value")?;
    shell_word(&text).map(Value::from)
}

/// `urlencode`: MiniJinja's (maps become query strings), except that inside a `url` a string
/// is encoded as one component, as the escaping would, and written as it is.
pub(super) fn urlencode(state: &State, value: &Value) -> Result<Value, Error> {
    if landing_of(state) == Landing::Url && value.kind() != ValueKind::Map {
        if value.is_none() || value.is_undefined() {
            return Ok(Value::from(""));
        }
        return url_component(&text_of(value)).map(Value::from_safe_string);
    }
    check_size(text_len(value).saturating_mul(3), "the URL-encoded value")?;
    let encoded = minijinja::filters::urlencode(value)?;
    // A map's keys and values are encoded one by one: the query string is the filter's own.
    if landing_of(state) == Landing::Url {
        return Ok(Value::from_safe_string(encoded));
    }
    Ok(Value::from(encoded))
}

fn text_len(value: &Value) -> usize {
    match value.as_str() {
        Some(s) => s.len(),
        None => value.len().unwrap_or(1).saturating_mul(64),
    }
}

/// `b64encode`: standard base64 of the value's UTF-8 text, as Ansible's.
pub(super) fn b64encode(value: &Value) -> Result<Value, Error> {
    let text = text_of(value);
    check_size(text.len().saturating_mul(4) / 3 + 4, "the base64 text")?;
    Ok(Value::from(
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
    ))
}

/// `b64decode`: the UTF-8 text of standard (or URL-safe) base64, as Ansible's.
pub(super) fn b64decode(value: &str, kwargs: Kwargs) -> Result<Value, Error> {
    kwargs.assert_all_used()?;
    let trimmed = value.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|engine| engine.decode(trimmed).ok())
        .ok_or_else(|| refuse("b64decode: the value is not base64"))?;
    String::from_utf8(bytes)
        .map(Value::from)
        .map_err(|_| refuse("b64decode: the decoded bytes are not UTF-8 text"))
}

// ---------------------------------------------------------------------------------------------
// Trusted values

/// [`trusted`] for a map of values (`vars`, `secrets`).
pub fn trusted_map(map: &serde_json::Map<String, Json>) -> Value {
    Value::from(
        map.iter()
            .map(|(k, v)| (k.clone(), trusted(v)))
            .collect::<BTreeMap<String, Value>>(),
    )
}

/// A value the author or the operator wrote, for the context: every string in it is safe, so
/// templates write it as it is wherever it lands.
pub fn trusted(json: &Json) -> Value {
    match json {
        Json::String(s) => Value::from_safe_string(s.clone()),
        Json::Array(items) => Value::from(items.iter().map(trusted).collect::<Vec<_>>()),
        Json::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), trusted(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
        other => Value::from(minijinja::value::Serde(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{context, eval_bool, render, render_in};
    use serde_json::json;

    const HOSTILE: &str = "x; touch PWNED; echo";

    /// `steps` as read from systems, `vars` as written by the author.
    fn ctx() -> Value {
        let steps = context(&json!({
            "v": {"body": HOSTILE, "sub": "$(touch PWNED)", "tick": "`touch PWNED`",
                  "quote": "it's \"$HOME\" \\ done", "path": "../../admin/delete-everything?x=",
                  "dots": "..", "nul": "a\u{0}b", "n": 200, "host": "10.0.0.7",
                  "list": ["a b", "c"], "nl": "a\nrm -rf x"}
        }));
        Value::from(BTreeMap::from([
            ("steps".to_string(), steps),
            (
                "vars".to_string(),
                trusted(
                    &json!({"base": "http://127.0.0.1:1/api", "cmd": "ls | wc -l", "q": "a b/c"}),
                ),
            ),
        ]))
    }

    fn shell(source: &str) -> Result<String, String> {
        render_in(source, &ctx(), Landing::Shell)
    }

    fn url(source: &str) -> Result<String, String> {
        render_in(source, &ctx(), Landing::Url)
    }

    /// What `sh -c` makes of a command: its words, as `printf '[%s]'` prints them.
    fn words(command: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("set -- {command}; printf '[%s]' \"$@\""))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn step_data_in_a_shell_command_is_one_word() {
        assert_eq!(
            shell("echo deployed {{ steps.v.body }}").unwrap(),
            "echo deployed 'x; touch PWNED; echo'"
        );
        for (field, text) in [
            ("body", HOSTILE),
            ("sub", "$(touch PWNED)"),
            ("tick", "`touch PWNED`"),
            ("quote", "it's \"$HOME\" \\ done"),
            ("nl", "a\nrm -rf x"),
        ] {
            let bare = shell(&format!("{{{{ steps.v.{field} }}}}")).unwrap();
            assert_eq!(words(&bare), format!("[{text}]"), "{bare}");
            // Inside the author's quotes too, and through filters and `tojson`.
            let single = shell(&format!("'<{{{{ steps.v.{field} }}}}>'")).unwrap();
            assert_eq!(words(&single), format!("[<{text}>]"), "{single}");
            let double = shell(&format!("\"<{{{{ steps.v.{field} }}}}>\"")).unwrap();
            assert_eq!(words(&double), format!("[<{text}>]"), "{double}");
            let sub = shell(&format!("\"$(printf %s {{{{ steps.v.{field} }}}})\"")).unwrap();
            assert_eq!(
                words(&sub),
                format!("[{}]", text.trim_end_matches('\n')),
                "{sub}"
            );
            let quoted = shell(&format!("{{{{ steps.v.{field} | quote }}}}")).unwrap();
            assert_eq!(words(&quoted), format!("[{text}]"), "{quoted}");
            let upper = shell(&format!("{{{{ steps.v.{field} | upper }}}}")).unwrap();
            assert_eq!(
                words(&upper),
                format!("[{}]", text.to_uppercase()),
                "{upper}"
            );
            let json = shell(&format!("{{{{ steps.v.{field} | tojson }}}}")).unwrap();
            assert_eq!(
                words(&json),
                format!("[{}]", serde_json::to_string(text).unwrap()),
                "{json}"
            );
        }
        // A number, a list, a value joined with the author's text.
        assert_eq!(shell("exit {{ steps.v.n }}").unwrap(), "exit 200");
        assert_eq!(
            words(&shell("{{ steps.v.list | join(' ') }} {{ 'v=' ~ steps.v.body }}").unwrap()),
            "[a b][c][v=x; touch PWNED; echo]"
        );
        // Trusted values are the author's shell, as written.
        assert_eq!(shell("{{ vars.cmd }}").unwrap(), "ls | wc -l");
        assert_eq!(shell("{{ steps.v.body | safe }}").unwrap(), HOSTILE);
    }

    /// Whatever the author's quoting around a value, a hostile value creates no file: the
    /// command either runs with the value as data or is refused.
    #[test]
    fn no_quoting_around_a_value_lets_it_run_a_command() {
        let dir = tempfile::tempdir().unwrap();
        let hostile = [
            "x; touch P1",
            "$(touch P2)",
            "`touch P3`",
            "'; touch P4; '",
            "\"; touch P5; \"",
            "\\'$(touch P6)",
            "a\ntouch P7",
            "') ; touch P8 ; ('",
        ];
        let around = [
            "echo {}",
            "echo '{}'",
            "echo \"{}\"",
            "echo \"$(echo {})\"",
            "echo \"$(echo '{}')\"",
            "echo $(echo \"{}\")",
            "echo a{}b",
            "echo '{}'\"{}\"{}",
            "echo \\'{}",
            "echo \\\\{}",
            "# {}",
            "echo ${X:-{}}",
            "echo \"${X:-{}}\"",
            "(echo {})",
            "echo $((1)) {}",
        ];
        for value in hostile {
            let ctx = context(&json!({"steps": {"v": {"body": value}}}));
            for shape in around {
                let source = shape.replace("{}", "{{ steps.v.body }}");
                let Ok(command) = render_in(&source, &ctx, Landing::Shell) else {
                    continue;
                };
                let _ = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
                let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
                assert!(made.is_empty(), "{source} with {value:?} ran: {command}");
            }
        }
    }

    #[test]
    fn places_without_a_sure_escape_are_refused() {
        for source in [
            "echo `echo {{ steps.v.body }}`",
            "echo \\{{ steps.v.body }}",
            "echo \"\\{{ steps.v.sub }}\"",
            "cat <<EOF\n{{ steps.v.body }}\nEOF",
            "echo ok # {{ steps.v.nl }}",
            "echo {{ steps.v.nul }}",
        ] {
            let err = shell(source).unwrap_err();
            assert!(
                err.contains("cannot") || err.contains("NUL"),
                "{source}: {err}"
            );
        }
        assert_eq!(
            shell("echo ok # {{ steps.v.body }}").unwrap(),
            "echo ok # x; touch PWNED; echo"
        );
        let err = shell("{% autoescape false %}{{ steps.v.body }}{% endautoescape %}").unwrap_err();
        assert!(err.contains("`{% autoescape %}` is not allowed"), "{err}");
    }

    #[test]
    fn step_data_in_a_url_is_one_component() {
        assert_eq!(
            url("{{ vars.base }}/deploy/{{ steps.v.path }}").unwrap(),
            "http://127.0.0.1:1/api/deploy/%2E%2E%2F%2E%2E%2Fadmin%2Fdelete-everything%3Fx%3D"
        );
        assert_eq!(
            url("{{ vars.base }}/x?q={{ steps.v.body }}&n={{ steps.v.n }}").unwrap(),
            "http://127.0.0.1:1/api/x?q=x%3B%20touch%20PWNED%3B%20echo&n=200"
        );
        let err = url("{{ vars.base }}/{{ steps.v.dots }}/admin").unwrap_err();
        assert!(err.contains("would change the URL's path"), "{err}");
        // The whole URL from a step: encoded, so not a URL at all, unless marked `| safe`.
        assert_eq!(url("{{ steps.v.host }}").unwrap(), "10%2E0%2E0%2E7");
        // `urlencode` in a URL encodes once, as one component.
        assert_eq!(
            url("{{ vars.base }}?q={{ vars.q | urlencode }}&p={{ steps.v.path | urlencode }}")
                .unwrap(),
            "http://127.0.0.1:1/api?q=a%20b%2Fc&p=%2E%2E%2F%2E%2E%2Fadmin%2Fdelete-everything%3Fx%3D"
        );
        assert_eq!(
            render("{{ vars.q | urlencode }}", &ctx()).unwrap(),
            "a%20b/c"
        );
    }

    #[test]
    fn step_data_in_an_address_is_a_host() {
        let address = |s: &str| render_in(s, &ctx(), Landing::Address);
        assert_eq!(
            address("{{ steps.v.host }}:{{ steps.v.n }}").unwrap(),
            "10.0.0.7:200"
        );
        let err = address("{{ steps.v.body }}:80").unwrap_err();
        assert!(err.contains("host name or an IP address"), "{err}");
    }

    #[test]
    fn plain_text_and_expressions_see_raw_values() {
        assert_eq!(render("{{ steps.v.body }}", &ctx()).unwrap(), HOSTILE);
        assert_eq!(
            render("{{ steps.v.body | quote }}", &ctx()).unwrap(),
            "'x; touch PWNED; echo'"
        );
        assert!(eval_bool("steps.v.body == 'x; touch PWNED; echo'", &ctx()).unwrap());
        assert!(eval_bool("vars.cmd == 'ls | wc -l' and 'ls' in vars.cmd", &ctx()).unwrap());
    }

    /// String literals are the author's text: a separator stays a separator, and a format
    /// string stays the author's while the values it takes are escaped.
    #[test]
    fn literals_are_trusted() {
        let c = Value::from(BTreeMap::from([
            (
                "vars".to_string(),
                trusted(&json!({"hosts": ["a", "b"], "base": "http://h:1"})),
            ),
            (
                "steps".to_string(),
                context(&json!({"x": {"list": ["d; e", "f"]}})),
            ),
        ]));
        let shell = |s: &str| render_in(s, &c, Landing::Shell).unwrap();
        assert_eq!(shell("kill {{ vars.hosts | join(' ') }}"), "kill a b");
        assert_eq!(
            shell("kill {{ steps.x.list | join(' ') }}"),
            "kill 'd; e' f"
        );
        assert_eq!(
            shell("{{ vars.hosts[0] ~ ' && ' ~ vars.hosts[1] }}"),
            "a && b"
        );
        assert_eq!(
            shell("{{ '%s-%s' | format(vars.hosts[0], steps.x.list[0]) }}"),
            "a-'d; e'"
        );
        assert_eq!(
            shell(r#"{{ "it's" }} {{ 'say "hi"' }}"#),
            r#"it's say "hi""#
        );
        assert_eq!(
            render_in(
                "{{ vars.base ~ '/x/' ~ steps.x.list[0] }}",
                &c,
                Landing::Url
            )
            .unwrap(),
            "http://h:1/x/d%3B%20e"
        );
        assert_eq!(
            trust_literals("a '{{ x | join(\", \") }}' {% if y == 'b' %}"),
            "a '{{ x | join((\", \"|safe)) }}' {% if y == ('b'|safe) %}"
        );
    }

    #[test]
    fn base64_filters() {
        let c = ctx();
        assert_eq!(
            render("{{ 'user:pw' | b64encode }}", &c).unwrap(),
            "dXNlcjpwdw=="
        );
        assert_eq!(
            render("{{ 'dXNlcjpwdw==' | b64decode }}", &c).unwrap(),
            "user:pw"
        );
        assert_eq!(
            render("{{ 'dXNlcjpwdw' | b64decode }}", &c).unwrap(),
            "user:pw"
        );
        let err = render("{{ '***' | b64decode }}", &c).unwrap_err();
        assert!(err.contains("not base64"), "{err}");
    }
}
