//! Secret values never reach the terminal, the timeline or a report: every line that leaves the
//! process passes through a [`Redactor`], which replaces each secret with `***`, also where a
//! server echoes it back in a body, a header or an error message.
//!
//! What is guaranteed: for every text `t`, `redact(t)` contains no occurrence of any secret in
//! any of the forms below, so `redact` is idempotent. A secret that is part of the mask itself
//! (`*`, `**`, `***`) cannot be told from it and is not redacted. The command line refuses
//! secrets shorter than [`MIN_SECRET_CHARS`]: a one-character secret matches inside every word.
//!
//! A secret is looked for as itself and, from [`MIN_SECRET_CHARS`] characters on, as the hex of
//! its UTF-8 bytes (either case) and in base64 (standard and URL-safe alphabets). Base64 is
//! matched at each of the three alignments a secret can have inside a longer encoded text,
//! so `base64("user:secret")` in an echoed `Authorization: Basic` header loses the secret's
//! part; only the characters that also encode a neighbour (at most one at each end) stay.
//!
//! Each of these is matched character by character, each character in any of the forms it
//! takes on the way out, mixed freely within one occurrence:
//! - as itself; ASCII letters in either case for the secret and its hex (URL hosts and hex
//!   digits are case-folded by the layers in between, so `Tok-A1` in a host comes back as
//!   `tok-a1`), exactly for base64 (where case carries the bits);
//! - percent-encoded, each UTF-8 byte as `%XX` in either case (how much of a value a URL or a
//!   form body encodes differs per library), and a space as `+`;
//! - JSON-escaped: `\"`, `\\`, `\/`, `\n` and the other short escapes, `\uXXXX`, and surrogate
//!   pairs; up to three levels deep (a server's echo of a JSON request is JSON inside JSON, and
//!   the timeline line around it a third level), so `\\\"` is a `"` too;
//! - as an HTML character reference: `&#115;`, `&#x73;`, and `&amp;`, `&lt;`, `&gt;`, `&quot;`,
//!   `&apos;` (an HTML error page that echoes a request).
//!
//! In JSON ([`Redactor::redact_json`]) a number whose digits hold a secret (a PIN sent as
//! `{"pin": 4711}`) becomes the redacted string.
//!
//! Text cut short before it reaches the redactor (a preview, a summary's last line of output,
//! the start of a body) ends with an ellipsis, `…` or `...`: a start of a secret, in any of its
//! forms, right before one is masked too, as its cut-off rest may be all that is missing.
//!
//! Replacing an occurrence can create a new one where a secret begins or ends with `*` (`x*`
//! in `xx*` becomes `x***`), so redaction repeats until no occurrence is left; every round
//! removes a character that is not `*` or shortens the text, so it ends.

use std::sync::RwLock;

use base64::Engine;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The shortest secret the command line accepts. Shorter ones match inside ordinary words,
/// numbers and the timeline's own keys (`API_TOKEN=e` would mask `seq` and `event`), and their
/// hex and base64 forms are short enough to occur by chance.
pub const MIN_SECRET_CHARS: usize = 4;

/// The set of secret values known so far (declared secrets at start, secret answers as given).
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<Secret>>,
}

/// One form of a secret value (itself, its hex, a base64 alignment), ready for matching.
#[derive(Debug, PartialEq)]
struct Secret {
    chars: Vec<char>,
    /// Whether ASCII letters match in either case: not for base64, where case carries bits.
    fold: bool,
    /// How many characters a start cut off by an ellipsis needs to be masked: any for the
    /// secret itself, more for the encoded forms, whose first characters occur by chance.
    min_start: usize,
    /// The bytes an occurrence can start with: the first character (in either case when
    /// folding), `%`, `\\`, `&` and (for a space) `+`.
    first: [bool; 256],
}

impl Secret {
    fn new(text: &str, fold: bool, min_start: usize) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut first = [false; 256];
        let mut buf = [0u8; 4];
        let lead = chars[0].encode_utf8(&mut buf).as_bytes()[0];
        first[lead as usize] = true;
        if fold {
            first[lead.to_ascii_lowercase() as usize] = true;
            first[lead.to_ascii_uppercase() as usize] = true;
        }
        for b in [b'%', b'\\', b'&'] {
            first[b as usize] = true;
        }
        if chars[0] == ' ' {
            first[b'+' as usize] = true;
        }
        Secret {
            chars,
            fold,
            first,
            min_start,
        }
    }

    /// The end of the longest occurrence starting at byte `at`, if one does.
    fn match_at(&self, text: &[u8], at: usize, memo: &mut Memo) -> Option<usize> {
        if !self.first[text[at] as usize] {
            return None;
        }
        seq_ends(text, vec![at], &self.chars, DEPTH, self.fold, memo)
            .into_iter()
            .max()
    }

    /// The earliest byte in `from..until` where a start of this form begins (at least
    /// `min_start` characters, not all of them) that runs to exactly `end`. Every start is
    /// followed at once, character by character, so each (characters matched, byte) pair is
    /// looked at once however many starts reach it.
    fn cut_start(
        &self,
        text: &[u8],
        (from, until, end): (usize, usize, usize),
        memo: &mut Memo,
    ) -> Option<usize> {
        let last = self.chars.len() - 1;
        // By byte: the (characters matched, earliest start) pairs that reach it.
        let mut reached: Vec<Vec<(usize, usize)>> = vec![Vec::new(); end - from];
        let mut best: Option<usize> = None;
        let mut ends = Vec::new();
        for p in from..end {
            let mut here = std::mem::take(&mut reached[p - from]);
            // `first` holds no UTF-8 continuation byte, so no start is inside a character.
            if p < until && self.first[text[p] as usize] {
                here.push((0, p));
            }
            here.sort_unstable();
            here.dedup_by_key(|(matched, _)| *matched);
            for (matched, start) in here {
                if matched >= last {
                    continue;
                }
                ends.clear();
                char_ends(
                    text,
                    p,
                    self.chars[matched],
                    DEPTH,
                    self.fold,
                    &mut ends,
                    memo,
                );
                for &e in &ends {
                    if e == end && matched + 1 >= self.min_start {
                        best = Some(best.map_or(start, |b: usize| b.min(start)));
                    } else if e < end {
                        reached[e - from].push((matched + 1, start));
                    }
                }
            }
        }
        best
    }
}

/// Every form a secret is looked for in: itself; from [`MIN_SECRET_CHARS`] on, its hex and
/// the base64 characters that encode only its own bytes, at each of the three alignments
/// and in both alphabets.
fn forms(secret: &str) -> Vec<Secret> {
    let mut forms = vec![Secret::new(secret, true, 1)];
    if secret.chars().count() < MIN_SECRET_CHARS {
        return forms;
    }
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    forms.push(Secret::new(&hex, true, MIN_SECRET_CHARS));
    let bytes = secret.as_bytes();
    for engine in [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for offset in 0..3 {
            // `offset` bytes of something else before the secret: the characters that hold
            // any of their bits (the first ceil(8*offset/6)) differ per text, and so does the
            // last one when the secret ends inside a character.
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            let from = (8 * offset).div_ceil(6);
            let to = 8 * padded.len() / 6;
            let stable = &encoded[from..to];
            if stable.len() >= MIN_SECRET_CHARS {
                let form = Secret::new(stable, false, MIN_SECRET_CHARS);
                if !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
    }
    forms
}

/// How many layers of JSON escaping are seen through: a JSON body inside a JSON body (a
/// server's echo of a request's JSON) inside a JSON string has three.
const DEPTH: u8 = 3;

/// Where a match of `chars` can end, starting from any of `starts`. Several forms of one
/// character can match with different lengths (`%41` is `A` encoded, or `%`, `4`, `1`), so
/// every position reachable so far is followed.
fn seq_ends(
    text: &[u8],
    mut starts: Vec<usize>,
    chars: &[char],
    depth: u8,
    fold: bool,
    memo: &mut Memo,
) -> Vec<usize> {
    let mut next = Vec::new();
    for &c in chars {
        next.clear();
        for &p in &starts {
            char_ends(text, p, c, depth, fold, &mut next, memo);
        }
        if next.is_empty() {
            return next;
        }
        sort_dedup(&mut next);
        std::mem::swap(&mut starts, &mut next);
    }
    starts
}

/// Sorts positions and removes duplicates. The positions a match reaches lie close together
/// (a run of backslashes reaches dozens, each many times): within 256 bytes of the first, a
/// bitmap does it without sorting.
fn sort_dedup(positions: &mut Vec<usize>) {
    const SPAN: usize = 256;
    let low = positions.iter().copied().min().unwrap_or(0);
    if positions.iter().any(|&p| p - low >= SPAN) {
        positions.sort_unstable();
        positions.dedup();
        return;
    }
    let mut seen = [0u64; SPAN / 64];
    for &p in positions.iter() {
        seen[(p - low) / 64] |= 1 << ((p - low) % 64);
    }
    positions.clear();
    for (word, &bits) in seen.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            positions.push(low + word * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

/// Adds to `ends` where each form of `c` that the text has at byte `at` ends.
fn char_ends(
    text: &[u8],
    at: usize,
    c: char,
    depth: u8,
    fold: bool,
    ends: &mut Vec<usize>,
    memo: &mut Memo,
) {
    // A backslash is itself part of every escape, so its forms are asked for again and again
    // from the same places (a secret of backslashes in a run of them asks for each position at
    // every depth, from every way of reaching it, from every start): compute each once.
    // (A backslash is only ever looked for with `fold`: no hex or base64 form holds one.)
    if c != '\\' {
        return char_forms(text, at, c, depth, fold, ends, memo);
    }
    if let Some(found) = memo.get(&(at, depth)) {
        match found {
            Ends::Near(mask) => {
                let mut mask = *mask;
                while mask != 0 {
                    ends.push(at + mask.trailing_zeros() as usize + 1);
                    mask &= mask - 1;
                }
            }
            Ends::Far(list) => ends.extend_from_slice(list),
        }
        return;
    }
    // The forms are found at the end of `ends` itself: no list of their own to allocate.
    let before = ends.len();
    char_forms(text, at, c, depth, fold, ends, memo);
    let found = &ends[before..];
    let found = if found.iter().all(|&end| end - at <= u64::BITS as usize) {
        Ends::Near(
            found
                .iter()
                .fold(0u64, |mask, &end| mask | (1 << (end - at - 1))),
        )
    } else {
        let mut list = found.to_vec();
        list.sort_unstable();
        list.dedup();
        Ends::Far(list)
    };
    memo.insert((at, depth), found);
}

/// The ends of a backslash's forms by start and depth: they depend on the text only, so one
/// memo serves every match in a text (pruned as the search moves on).
/// FxHash (rustc's), not SipHash: flooding resistance is pointless for keys that are
/// positions in the text, and hashing is much of the work on a run of backslashes.
type Memo = rustc_hash::FxHashMap<(usize, u8), Ends>;

/// Where the forms of a character starting at a given byte end.
enum Ends {
    /// All within 64 bytes (nearly always): bit `i` set for an end `i + 1` bytes on, so the
    /// memo allocates nothing.
    Near(u64),
    /// Some further on (escapes of escapes, percent-encoded), as a sorted list.
    Far(Vec<usize>),
}

/// [`char_ends`] without the memo.
fn char_forms(
    text: &[u8],
    at: usize,
    c: char,
    depth: u8,
    fold: bool,
    ends: &mut Vec<usize>,
    memo: &mut Memo,
) {
    let rest = &text[at..];
    let Some(&lead) = rest.first() else {
        return;
    };
    // Duplicates are removed by the caller, once per character (see `seq_ends`).
    let mut add = |end: usize| ends.push(end);
    let mut buf = [0u8; 4];
    let raw = c.encode_utf8(&mut buf).as_bytes();
    if rest.len() >= raw.len()
        && (if fold {
            rest[..raw.len()].eq_ignore_ascii_case(raw)
        } else {
            &rest[..raw.len()] == raw
        })
    {
        add(at + raw.len());
    }
    if lead == b'%'
        && rest.len() >= 3 * raw.len()
        && raw
            .iter()
            .enumerate()
            .all(|(i, b)| rest[3 * i] == b'%' && hex_byte(&rest[3 * i + 1..]) == Some(*b as u32))
    {
        add(at + 3 * raw.len());
    }
    if c == ' ' && lead == b'+' {
        add(at + 1);
    }
    if lead == b'&'
        && let Some(len) = html_reference(rest, c)
    {
        add(at + len);
    }
    // A JSON escape: a backslash, then a letter or `u` and four hex digits, each of which may
    // itself be escaped one level less deep (`\\\"` is `"` escaped twice). Escape syntax is
    // matched in either case whatever the secret's form.
    if depth == 0 || !could_escape(rest, c) {
        return;
    }
    let backslash = seq_ends(text, vec![at], &['\\'], depth - 1, true, memo);
    if backslash.is_empty() {
        return;
    }
    if let Some(letter) = short_escape(c) {
        seq_ends(text, backslash.clone(), &[letter], depth - 1, true, memo)
            .into_iter()
            .for_each(&mut add);
    }
    // `\uXXXX`, or for a character beyond the BMP a surrogate pair: two escapes in a row.
    let mut units = [0u16; 2];
    let mut ends = backslash;
    for (i, unit) in c.encode_utf16(&mut units).iter().enumerate() {
        if i > 0 {
            ends = seq_ends(text, ends, &['\\'], depth - 1, true, memo);
        }
        let hex =
            |shift: u16| char::from_digit(u32::from((unit >> shift) & 0xf), 16).unwrap_or('0');
        let escape = ['u', hex(12), hex(8), hex(4), hex(0)];
        ends = seq_ends(text, ends, &escape, depth - 1, true, memo);
    }
    ends.into_iter().for_each(add);
}

/// The length of an HTML character reference to `c` at the start of `rest` (which starts with
/// `&`): `&#115;`, `&#x73;` (digits bounded, so a long run costs nothing), or a named one.
fn html_reference(rest: &[u8], c: char) -> Option<usize> {
    let named = match c {
        '&' => Some(&b"&amp;"[..]),
        '<' => Some(&b"&lt;"[..]),
        '>' => Some(&b"&gt;"[..]),
        '"' => Some(&b"&quot;"[..]),
        '\'' => Some(&b"&apos;"[..]),
        _ => None,
    };
    if let Some(name) = named
        && rest.len() >= name.len()
        && rest[..name.len()].eq_ignore_ascii_case(name)
    {
        return Some(name.len());
    }
    if rest.get(1) != Some(&b'#') {
        return None;
    }
    let (radix, from) = match rest.get(2) {
        Some(b'x' | b'X') => (16, 3),
        _ => (10, 2),
    };
    let digits = rest[from..]
        .iter()
        .take(10)
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if digits == 0 || rest.get(from + digits) != Some(&b';') {
        return None;
    }
    let text = std::str::from_utf8(&rest[from..from + digits]).ok()?;
    let code = u32::from_str_radix(text, radix).ok()?;
    (code == c as u32).then_some(from + digits + 1)
}

/// A cheap test before following escapes: an escape starts with backslashes (raw or `%5C`),
/// and what follows them is the escape's letter, a `u`, or more percent-encoding.
fn could_escape(rest: &[u8], c: char) -> bool {
    let (mut i, mut backslashes) = (0, 0);
    // Three levels need at most eight backslashes: stop there, so a long run of them costs
    // the same at every position.
    while i < rest.len() && backslashes < 8 {
        if rest[i] == b'\\' {
            i += 1;
        } else if rest[i..].len() >= 3 && rest[i..i + 3].eq_ignore_ascii_case(b"%5c") {
            i += 3;
        } else {
            break;
        }
        backslashes += 1;
    }
    if backslashes == 0 {
        return false;
    }
    // An escaped backslash is backslashes only.
    if c == '\\' && backslashes >= 2 {
        return true;
    }
    let letter = short_escape(c).map(|l| l as u8);
    let escape_letter =
        |b: u8| b.eq_ignore_ascii_case(&b'u') || letter.is_some_and(|l| b.eq_ignore_ascii_case(&l));
    // The letter as itself or percent-encoded (`%75`); a `%5C` here is a ninth backslash,
    // which no escape three levels deep has.
    match rest.get(i) {
        Some(b'%') => hex_byte(&rest[i + 1..]).is_some_and(|b| escape_letter(b as u8)),
        Some(&next) => escape_letter(next),
        None => false,
    }
}

/// The letter of the short JSON escape of `c` (`n` for a newline), if it has one.
fn short_escape(c: char) -> Option<char> {
    Some(match c {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        '\u{8}' => 'b',
        '\u{c}' => 'f',
        '\n' => 'n',
        '\r' => 'r',
        '\t' => 't',
        _ => return None,
    })
}

fn hex_digit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// Two hex digits at the start of `text`.
fn hex_byte(text: &[u8]) -> Option<u32> {
    match text {
        [a, b, ..] => Some(hex_digit(*a)? * 16 + hex_digit(*b)?),
        _ => None,
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value. Empty values, and values that are part of the mask, cannot be
    /// redacted and are ignored.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() || MASK.contains(secret) {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        for form in forms(secret) {
            if !secrets.contains(&form) {
                secrets.push(form);
            }
        }
    }

    /// Replaces every occurrence of every known secret in `text`, in any of its forms.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        if secrets.is_empty() {
            return out;
        }
        loop {
            let spans = occurrences(&secrets, out.as_bytes());
            if spans.is_empty() {
                return out;
            }
            let mut next = String::with_capacity(out.len());
            let mut done = 0;
            for (start, end) in spans {
                next.push_str(&out[done..start]);
                next.push_str(MASK);
                done = end;
            }
            next.push_str(&out[done..]);
            out = next;
        }
    }

    /// Redacts a JSON value: every string, every key (a server may echo a secret as one), and
    /// every number or boolean whose text holds a secret (which becomes the redacted string). For a
    /// timeline record, whose own keys must survive, see the timeline writer.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match value {
            J::String(s) => J::String(self.redact(s)),
            // A number whose digits hold a secret (a PIN), or a boolean that is one: as text.
            J::Number(_) | J::Bool(_) => {
                let text = value.to_string();
                let redacted = self.redact(&text);
                if redacted == text {
                    value.clone()
                } else {
                    J::String(redacted)
                }
            }
            J::Array(items) => J::Array(items.iter().map(|v| self.redact_json(v)).collect()),
            J::Object(map) => J::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Every occurrence of any secret, as byte spans in order, overlapping and touching ones
/// merged (so `secretsecret` becomes one `***`); a start of a secret cut off by an ellipsis
/// counts as an occurrence.
fn occurrences(secrets: &[Secret], text: &[u8]) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    // The search goes on after the end of what it found: a secret that starts inside a masked
    // one cannot survive whole (the rounds of `redact` repeat until none does), and starting
    // again at every position inside a long match (a secret of backslashes in a run of them)
    // would make the work grow with the square of the match.
    let mut at = 0;
    let mut memo = Memo::default();
    while at < text.len() {
        // A match only looks ahead of where it starts: what lies behind is never asked again.
        if memo.len() > 4096 {
            memo.retain(|&(p, _), _| p >= at);
        }
        match secrets
            .iter()
            .filter_map(|s| s.match_at(text, at, &mut memo))
            .max()
        {
            Some(end) => {
                found.push((at, end));
                at = end;
            }
            None => at += 1,
        }
    }
    found.extend(cut_starts(secrets, text));
    found.sort_unstable();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (at, end) in found {
        match spans.last_mut() {
            Some((_, last_end)) if at <= *last_end => *last_end = (*last_end).max(end),
            _ => spans.push((at, end)),
        }
    }
    spans
}

/// How many bytes one character can take in the widest form matched: a 4-byte character's
/// surrogate pair, three levels of JSON escaping deep, its backslashes percent-encoded.
const WIDEST_CHAR: usize = 64;

/// How far before an ellipsis a cut-off start of a secret is looked for, at most.
const MAX_CUT_WINDOW: usize = 4096;

/// Starts of secrets right before an ellipsis (`…` or `...`) that follows something else: the
/// longest such start before each, as a span ending at the ellipsis. A start made only of `*`
/// cannot be told from the mask and is left alone (masking it would never end).
fn cut_starts(secrets: &[Secret], text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    // Where the last ellipsis ended: a start of a secret without dots cannot run across one,
    // so no byte is looked at for more than one ellipsis (`a...a...` stays linear).
    let mut previous = 0;
    for end in 1..text.len() {
        // Both start with `.` or 0xE2: most bytes are ruled out before comparing.
        if !matches!(text[end], b'.' | 0xe2) {
            continue;
        }
        let ellipsis = text[end..].starts_with("…".as_bytes()) || text[end..].starts_with(b"...");
        let after_ellipsis = text[..end].ends_with("…".as_bytes()) || text[end - 1] == b'.';
        if !ellipsis || after_ellipsis {
            continue;
        }
        // Where the run of `*` right before the ellipsis begins.
        let stars = text[..end]
            .iter()
            .rposition(|&b| b != b'*')
            .map_or(0, |i| i + 1);
        let mut memo = Memo::default();
        for secret in secrets {
            let dotted = secret.chars.iter().any(|&c| c == '.' || c == '…');
            let window = (secret.chars.len() * WIDEST_CHAR).min(MAX_CUT_WINDOW);
            let from = end
                .saturating_sub(window)
                .max(if dotted { 0 } else { previous });
            if let Some(start) = secret.cut_start(text, (from, stars, end), &mut memo) {
                spans.push((start, end));
            }
        }
        previous = end;
    }
    spans
}

#[cfg(test)]
mod tests;
