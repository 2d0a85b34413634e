//! A bound, checked when a runbook is validated, on `*` applied to a literal list, tuple or
//! string.
//!
//! The fuzzer found that `not (_p,)*66666665*666-602` as a `when:` made MiniJinja build a
//! 66,666,665-item tuple (1.5 GB, seconds of CPU) before the next `*` was refused. At run time
//! the engine's fuel now refuses such an allocation before it is made (MiniJinja charges a
//! repetition's estimated size against the fuel), but a runbook that can only fail that way
//! should fail `runbook validate`, at its line and column, not in the middle of an incident.
//!
//! So in a multiplication chain (`a * b * c`) with a literal list, tuple or string as a factor,
//! the literal integer factors may multiply to at most [`MAX_REPEAT`]: `"-" * 40` and
//! `[0] * 3` are fine, `(x,) * 66666665` and `(x,) * 10000 * 10000` are refused. A count that
//! is not a literal (`"-" * vars.width`) is left to the fuel at run time.

use minijinja::machinery::tokenize;
use minijinja::syntax::SyntaxConfig;

/// The most times a literal list or string may be repeated.
pub const MAX_REPEAT: u64 = 10_000;

/// What matters about a token here.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    Str,
    Int(u64),
    Open(u8),
    Close(u8),
    Mul,
    Comma,
    /// Ends a multiplication chain: other binary operators, keywords, template delimiters.
    Break,
    /// Part of an operand: names, dots, calls, filters, `**`, floats.
    Part,
}

/// Checks an expression (`in_expr`) or a template; the error says what to change.
pub fn check(source: &str, in_expr: bool) -> Result<(), String> {
    if !source.contains('*') {
        return Ok(());
    }
    let tokens: Vec<Tok> = tokenize(source, in_expr, SyntaxConfig::default())
        // A source that does not tokenize is reported by the compiler, with a better message.
        .map_while(Result::ok)
        .map(|(token, _)| classify(&token))
        .collect();
    check_group(&tokens)
}

fn classify(token: &minijinja::machinery::Token<'_>) -> Tok {
    use minijinja::machinery::Token as T;
    match token {
        T::Str(_) | T::String(_) => Tok::Str,
        T::Int(n) => Tok::Int(*n),
        T::Int128(n) => Tok::Int(u64::try_from(**n).unwrap_or(u64::MAX)),
        T::ParenOpen => Tok::Open(b'('),
        T::BracketOpen => Tok::Open(b'['),
        T::BraceOpen => Tok::Open(b'{'),
        T::ParenClose => Tok::Close(b')'),
        T::BracketClose => Tok::Close(b']'),
        T::BraceClose => Tok::Close(b'}'),
        T::Mul => Tok::Mul,
        T::Comma => Tok::Comma,
        T::Ident(word) if matches!(*word, "and" | "or" | "not" | "in" | "is" | "if" | "else") => {
            Tok::Break
        }
        T::Ident(_) | T::Dot | T::Pipe | T::Pow | T::Float(_) => Tok::Part,
        _ => Tok::Break,
    }
}

/// The index just past the group that opens at `start` (or the end, if it never closes).
fn group_end(tokens: &[Tok], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Tok::Open(_) => depth += 1,
            Tok::Close(_) => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// What a factor of a multiplication is, as far as its tokens tell.
#[derive(Debug, PartialEq)]
enum Factor {
    /// A literal list, tuple or string.
    Repeatable,
    Count(u64),
    Unknown,
}

fn factor(tokens: &[Tok]) -> Factor {
    match tokens {
        [Tok::Str] => Factor::Repeatable,
        [Tok::Int(n)] => Factor::Count(*n),
        [Tok::Open(b'['), .., Tok::Close(b']')] if group_end(tokens, 0) == tokens.len() => {
            Factor::Repeatable
        }
        [Tok::Open(b'('), inner @ .., Tok::Close(b')')] if group_end(tokens, 0) == tokens.len() => {
            if has_top_level_comma(inner) {
                Factor::Repeatable
            } else {
                factor(inner)
            }
        }
        _ => Factor::Unknown,
    }
}

fn has_top_level_comma(tokens: &[Tok]) -> bool {
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            Tok::Comma => return true,
            Tok::Open(_) => i = group_end(tokens, i),
            _ => i += 1,
        }
    }
    false
}

/// Checks the chains at this level, then inside every bracket.
fn check_group(tokens: &[Tok]) -> Result<(), String> {
    let mut chain: Vec<&[Tok]> = Vec::new();
    let mut operand_start = 0;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            Tok::Open(_) => {
                let end = group_end(tokens, i);
                check_group(&tokens[i + 1..end.saturating_sub(1).max(i + 1)])?;
                i = end;
                continue;
            }
            Tok::Mul => {
                chain.push(&tokens[operand_start..i]);
                operand_start = i + 1;
            }
            Tok::Break | Tok::Comma | Tok::Close(_) => {
                chain.push(&tokens[operand_start..i]);
                check_chain(&chain)?;
                chain.clear();
                operand_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    chain.push(&tokens[operand_start..]);
    check_chain(&chain)
}

fn check_chain(chain: &[&[Tok]]) -> Result<(), String> {
    if chain.len() < 2 {
        return Ok(());
    }
    let factors: Vec<Factor> = chain.iter().map(|tokens| factor(tokens)).collect();
    if !factors.contains(&Factor::Repeatable) {
        return Ok(());
    }
    let mut times: u64 = 1;
    for f in factors {
        match f {
            Factor::Repeatable => {}
            Factor::Count(n) => times = times.saturating_mul(n),
            // Known only at run time, where fuel bounds it.
            Factor::Unknown => {}
        }
    }
    if times > MAX_REPEAT {
        return Err(format!(
            "`*` repeats a list or string {times} times; at most {MAX_REPEAT} are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_counts_are_bounded_by_fuel() {
        let ctx = crate::expr::context(&serde_json::json!({"n": 100_000_000u64}));
        for source in [
            "([1] * n) | list | length",
            "((1,) * n) | length",
            "('ab' * n) | length",
            "([1] * 10 ** 8) | list | length",
        ] {
            let started = std::time::Instant::now();
            let message = crate::expr::eval(source, &ctx)
                .expect_err(source)
                .to_string();
            assert!(
                message.contains("evaluation stopped after"),
                "{source}: {message}"
            );
            // Without fuel each would build 100 million items: gigabytes and many seconds.
            assert!(started.elapsed().as_secs() < 10, "{source}");
        }
    }

    #[test]
    fn small_literal_repetition_is_fine() {
        for source in [
            "'-' * 40",
            "[0] * 3",
            "(1, 2) * 2 * 5",
            "3 * 'ab'",
            "rate_5xx * 100",
            "vars.a * vars.b * 1000000",
            "range(3) | list",
            "('a') * 3",
            "'a' * vars.n",
            "('a',) * (3 * n)",
        ] {
            assert_eq!(check(source, true), Ok(()), "{source}");
        }
        assert_eq!(check("{{ '=' * 20 }} {{ x * 99999999 }}", false), Ok(()));
    }

    #[test]
    fn large_or_unknown_counts_are_refused() {
        for source in [
            "not (_p,)*66666665*666-602",
            "(x,) * 10000 * 10000",
            "vars.n * [1] * 20000",
            "f([0] * 100000)",
        ] {
            let refused = check(source, true);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("at most 10000 are allowed")),
                "{source}: {refused:?}"
            );
        }
        for source in [
            "ok {{ 'x' * 20000 }}",
            "{% for x in [1] * 99999 %}{% endfor %}",
        ] {
            let refused = check(source, false);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("at most 10000 are allowed")),
                "{source}: {refused:?}"
            );
        }
    }
}
