//! Bounds on what one evaluation may allocate, where MiniJinja's fuel does not reach.
//!
//! The fuel ([`super::FUEL`]) charges a byte of output or data as 1/64 of an instruction, so
//! it stops anything that builds more than about 61 MiB, as long as the charge comes before
//! the allocation: `~`, `*`, `join`, `replace`, `indent` and `format` check first. `tojson`
//! charges only after it has serialized: `tojson(indent=10000000)` built gigabytes and the
//! process aborted. It is replaced here by one that writes into a bounded buffer, and the
//! filters of [`super::escape`] check their output size before they allocate.

use std::io::Write;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// The most bytes one value built by an expression or a template may have.
pub const MAX_BYTES: usize = 64 << 20;

/// The widest `tojson` indent: a deeper one is a mistake or an attack.
pub const MAX_INDENT: usize = 1024;

/// Refuses to build `what` when it would be larger than [`MAX_BYTES`].
pub(super) fn check_size(len: usize, what: &str) -> Result<(), Error> {
    if len <= MAX_BYTES {
        return Ok(());
    }
    Err(too_large(what))
}

fn too_large(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} would be larger than {} MiB", MAX_BYTES >> 20),
    )
}

/// The most items (counted through nested lists and maps) a value may have to be printed or
/// turned into data: about what the fuel lets a filter visit.
pub const MAX_ITEMS: usize = 1_000_000;

/// Refuses a value with more than [`MAX_ITEMS`] items, counting no further than that: a lazy
/// `[x] * 100000000` is cheap to make and takes minutes to print.
pub(super) fn check_items(value: &Value) -> Result<(), Error> {
    fn count(value: &Value, budget: &mut usize) -> bool {
        if !matches!(
            value.kind(),
            ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
        ) {
            return true;
        }
        if value.len().is_some_and(|len| len > *budget) {
            return false;
        }
        let Ok(items) = value.try_iter() else {
            return true;
        };
        let map = value.kind() == ValueKind::Map;
        for item in items {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let item = if map {
                value.get_item(&item).unwrap_or_default()
            } else {
                item
            };
            if !count(&item, budget) {
                return false;
            }
        }
        true
    }
    let mut budget = MAX_ITEMS;
    if count(value, &mut budget) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the value has more than {MAX_ITEMS} items"),
        ))
    }
}

/// A value as text, as MiniJinja prints it, refused past [`MAX_BYTES`]: `[x] * 100000000` is a
/// lazy list of 100 million items, which the fuel does not charge for printing.
pub(super) fn display(value: &Value) -> Result<String, Error> {
    struct Capped(String);
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.0.len().saturating_add(s.len()) > MAX_BYTES {
                return Err(std::fmt::Error);
            }
            self.0.push_str(s);
            Ok(())
        }
    }
    check_items(value)?;
    let mut out = Capped(String::new());
    std::fmt::Write::write_fmt(&mut out, format_args!("{value}"))
        .map_err(|_| too_large("the text of the value"))?;
    Ok(out.0)
}

/// A value as JSON, refused past [`MAX_BYTES`] of JSON text (a lazy list of 100 million items
/// would otherwise become gigabytes of `serde_json::Value`).
pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    check_items(value).map_err(|e| e.detail().unwrap_or_default().to_string())?;
    let mut out = Bounded(Vec::new());
    if let Err(e) = serde_json::to_writer(&mut out, value) {
        return Err(if e.is_io() {
            format!("the value is larger than {} MiB as data", MAX_BYTES >> 20)
        } else {
            format!("value cannot be represented as data: {e}")
        });
    }
    serde_json::from_slice(&out.0).map_err(|e| format!("value cannot be represented as data: {e}"))
}

/// A buffer that refuses to grow past [`MAX_BYTES`].
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len().saturating_add(buf.len()) > MAX_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// MiniJinja's one-line JSON style: `{"a": 1, "b": [1, 2]}`.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// `tojson`, as MiniJinja's (`indent` as a number, or `true` for 2), bounded. The result is a
/// plain string: JSON text is not safe in a shell command or a URL.
pub(super) fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match indent {
        Some(indent) => Some(indent),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(v) => match bool::try_from(v.clone()) {
            Ok(true) => Some(2),
            Ok(false) => None,
            Err(_) => Some(usize::try_from(v)?),
        },
    };
    if let Some(width) = indent
        && width > MAX_INDENT
    {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: indent {width} is too wide (at most {MAX_INDENT})"),
        ));
    }
    check_items(value)?;
    let mut out = Bounded(Vec::new());
    let written = match indent {
        Some(width) => {
            let spaces = vec![b' '; width];
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(value, &mut ser)
        }
        None => {
            let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
            serde::Serialize::serialize(value, &mut ser)
        }
    };
    if let Err(e) = written {
        return Err(if e.is_io() {
            too_large("tojson: the JSON text")
        } else {
            Error::new(
                ErrorKind::InvalidOperation,
                "tojson: cannot serialize to JSON",
            )
            .with_source(e)
        });
    }
    String::from_utf8(out.0)
        .map(Value::from)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "tojson: not UTF-8"))
}

#[cfg(test)]
mod tests {
    use crate::expr::{context, eval_json, render};
    use serde_json::json;

    fn failure(source: &str) -> String {
        let ctx = context(&json!({"data": {"a": [1, [2, [3]]]}}));
        match render(source, &ctx) {
            Err(e) => e,
            Ok(text) => panic!("{source}: expected an error, rendered {} bytes", text.len()),
        }
    }

    #[test]
    fn allocation_bombs_stop_with_a_clear_error() {
        assert!(
            failure("{{ data | tojson(indent=10000000) }}")
                .contains("tojson: indent 10000000 is too wide (at most 1024)")
        );
        // Step data can be large already: two copies of it are too large as JSON text.
        let big = context(&json!({"big": "x".repeat(33 << 20)}));
        let err = render("{{ [big, big] | tojson }}", &big).unwrap_err();
        assert!(
            err.contains("tojson: the JSON text would be larger than 64 MiB"),
            "{err}"
        );
        for source in [
            "{{ 'x' | indent(100000000, true) }}",
            "{{ 'x' * (vars_n | default(100000000)) }}",
            "{{ range(100000) | join('-' * 10000) }}",
            "{{ ('x' * 1000000) | replace('x', 'y' * 1000) }}",
        ] {
            let err = failure(source);
            assert!(
                err.contains("evaluation stopped")
                    || err.contains("too large")
                    || err.contains("too many")
                    || err.contains("at most 10000 are allowed"),
                "{source}: {err}"
            );
        }
    }

    /// A lazy list is cheap to make: printing it or turning it into data is what is bounded.
    #[test]
    fn huge_lazy_lists_are_refused_quickly() {
        let ctx = context(&json!({"n": 100000000, "m": 100000, "s": "ab"}));
        let started = std::time::Instant::now();
        for source in [
            "{{ [s] * n }}",
            "{{ [[s] * 1000] * m }}",
            "{{ ([s] * n) | tojson }}",
        ] {
            let err = render(source, &ctx).unwrap_err();
            assert!(err.contains("more than 1000000 items"), "{source}: {err}");
        }
        let err = eval_json("[[s] * 1000] * m", &ctx).unwrap_err();
        assert!(err.to_string().contains("more than 1000000 items"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(
            render("{{ ([s] * n) | length }}", &ctx).unwrap(),
            "100000000"
        );
        assert_eq!(render("{{ [s] * 3 }}", &ctx).unwrap(), "['ab', 'ab', 'ab']");
    }

    #[test]
    fn tojson_is_still_tojson() {
        let ctx = context(&json!({"d": {"b": [1, "x<y"], "a": null}}));
        assert_eq!(
            render("{{ d | tojson }}", &ctx).unwrap(),
            r#"{"a": null, "b": [1, "x<y"]}"#
        );
        assert_eq!(
            render("{{ d.b | tojson(indent=2) }}", &ctx).unwrap(),
            "[\n  1,\n  \"x<y\"\n]"
        );
        assert_eq!(render("{{ 1 | tojson(true) }}", &ctx).unwrap(), "1");
        assert_eq!(
            eval_json("d.b | tojson", &ctx).unwrap(),
            json!(r#"[1, "x<y"]"#)
        );
    }
}
