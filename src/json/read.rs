//! A JSON reader into a tree that borrows from the input: strings and numbers stay slices of the
//! body until someone asks for them, and every array and object keeps the exact text it came
//! from (an item is handed on to a person's authority as Meta sent it). One pass over the bytes,
//! one tree, and no code generated per type read: that is what it is for (issue 13's size and
//! CPU; serde's generic deserializer was compiled once per type it read).

use std::borrow::Cow;

/// How deep arrays and objects may nest: Meta's deepest payloads are about eight levels; a
/// limit keeps a hostile body from exhausting the stack (serde_json uses 128 too).
pub const MAX_DEPTH: usize = 128;

/// A JSON value borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number as written (validated against JSON's grammar), converted on request.
    Number(&'a str),
    String(Str<'a>),
    Array(Array<'a>),
    Object(Object<'a>),
}

/// A string as written between its quotes; escapes are decoded only when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Array<'a> {
    pub items: Vec<Value<'a>>,
    /// The array's text, brackets included.
    pub raw: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Object<'a> {
    pub fields: Vec<(Str<'a>, Value<'a>)>,
    /// The object's text, braces included.
    pub raw: &'a str,
}

/// Why a text is not JSON, and where. It never quotes the text (it may be personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    pub kind: SyntaxKind,
    /// Byte offset of the problem.
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxKind {
    /// Something other than JSON at `at`.
    Unexpected,
    /// The text ends inside a value.
    Truncated,
    /// Nested deeper than `MAX_DEPTH`.
    TooDeep,
    /// A value is followed by more text.
    Trailing,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            SyntaxKind::Unexpected => "syntax error",
            SyntaxKind::Truncated => "truncated",
            SyntaxKind::TooDeep => "nested too deep",
            SyntaxKind::Trailing => "trailing characters",
        };
        write!(f, "{what} at byte {}", self.at)
    }
}

/// Reads one JSON value filling the whole text (whitespace around it allowed).
pub fn parse(text: &str) -> Result<Value<'_>, SyntaxError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.at < reader.bytes.len() {
        return Err(reader.error(SyntaxKind::Trailing));
    }
    Ok(value)
}

/// Reads JSON from bytes, which must be UTF-8 (JSON's only encoding).
pub fn parse_bytes(bytes: &[u8]) -> Result<Value<'_>, SyntaxError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SyntaxError {
        kind: SyntaxKind::Unexpected,
        at: e.valid_up_to(),
    })?;
    parse(text)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, kind: SyntaxKind) -> SyntaxError {
        let kind = if self.at >= self.bytes.len() && kind == SyntaxKind::Unexpected {
            SyntaxKind::Truncated
        } else {
            kind
        };
        SyntaxError { kind, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), SyntaxError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(SyntaxKind::Unexpected))
        }
    }

    /// The text from `start` to the reader's position. Both are at ASCII bytes (a quote, a
    /// bracket, a digit), so the slice is always on character boundaries.
    fn since(&self, start: usize) -> &'a str {
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.object(depth + 1).map(Value::Object),
            Some(b'[') => self.array(depth + 1).map(Value::Array),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            _ => Err(self.error(SyntaxKind::Unexpected)),
        }
    }

    fn word(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, SyntaxError> {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end) == Some(word.as_bytes()) {
            self.at = end;
            Ok(value)
        } else {
            Err(self.error(SyntaxKind::Unexpected))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(SyntaxKind::Unexpected)),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error(SyntaxKind::Unexpected));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(SyntaxKind::Unexpected));
            }
        }
        Ok(self.since(start))
    }

    fn string(&mut self) -> Result<Str<'a>, SyntaxError> {
        self.at += 1; // the opening quote
        let start = self.at;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            self.at += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(b) if b.is_ascii_hexdigit() => self.at += 1,
                                    _ => return Err(self.error(SyntaxKind::Unexpected)),
                                }
                            }
                        }
                        _ => return Err(self.error(SyntaxKind::Unexpected)),
                    }
                }
                // JSON forbids raw control characters inside strings.
                Some(0x00..=0x1f) | None => return Err(self.error(SyntaxKind::Unexpected)),
                Some(_) => self.at += 1,
            }
        }
        let raw = self.since(start);
        self.at += 1; // the closing quote
        Ok(Str { raw, escaped })
    }

    /// Skips the bytes of a string that need no attention (not `"`, `\` or a control
    /// character), eight at a time: a message's text is most of a large delivery, and a byte at
    /// a time it cost more than the HMAC over the same bytes.
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        // Bytes of `v` that are zero, flagged in their high bit (exact when none is, which is
        // all this asks).
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let mut chunks = rest.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let v = u64::from_le_bytes(word);
            let attention = zero(v ^ (ONES * u64::from(b'"')))
                | zero(v ^ (ONES * u64::from(b'\\')))
                | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS);
            if attention != 0 {
                break;
            }
            self.at += 8;
        }
        while let Some(b) = self.peek() {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            self.at += 1;
        }
    }

    fn array(&mut self, depth: usize) -> Result<Array<'a>, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(SyntaxKind::TooDeep));
        }
        let start = self.at;
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                items.push(self.value(depth)?);
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error(SyntaxKind::Unexpected)),
                }
            }
        }
        Ok(Array {
            items,
            raw: self.since(start),
        })
    }

    fn object(&mut self, depth: usize) -> Result<Object<'a>, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(SyntaxKind::TooDeep));
        }
        let start = self.at;
        self.at += 1;
        let mut fields = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_space();
                if self.peek() != Some(b'"') {
                    return Err(self.error(SyntaxKind::Unexpected));
                }
                let key = self.string()?;
                self.skip_space();
                self.expect(b':')?;
                let value = self.value(depth)?;
                fields.push((key, value));
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error(SyntaxKind::Unexpected)),
                }
            }
        }
        Ok(Object {
            fields,
            raw: self.since(start),
        })
    }
}

impl<'a> Str<'a> {
    /// The string's text with its escapes decoded (borrowed when it has none). A lone UTF-16
    /// surrogate becomes U+FFFD, as a browser's decoder does, instead of failing the value.
    pub fn text(&self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.raw);
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let unit = hex4(&mut chars);
                    let c = if (0xD800..0xDC00).contains(&unit) {
                        // A high surrogate: a low one must follow as `\uXXXX`.
                        let mut ahead = chars.clone();
                        let low = match (ahead.next(), ahead.next()) {
                            (Some('\\'), Some('u')) => Some(hex4(&mut ahead)),
                            _ => None,
                        };
                        match low {
                            Some(low @ 0xDC00..=0xDFFF) => {
                                chars = ahead;
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            _ => None,
                        }
                    } else {
                        char::from_u32(unit)
                    };
                    out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                // `"`, `\` and `/` stand for themselves; the reader let no other escape through.
                Some(other) => out.push(other),
                None => {}
            }
        }
        Cow::Owned(out)
    }

    /// Whether the string is exactly `s` (after decoding).
    pub fn is(&self, s: &str) -> bool {
        if self.escaped {
            self.text() == s
        } else {
            self.raw == s
        }
    }

    /// The string as written, escapes and all (valid inside quotes in JSON output).
    pub fn raw(&self) -> &'a str {
        self.raw
    }
}

/// Four hex digits (the reader checked them); a missing one reads as zero.
fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    (0..4).fold(0, |n, _| {
        n * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0)
    })
}

impl<'a> Object<'a> {
    /// The value of `key`; when a key repeats, the last one counts (as in JavaScript). Never
    /// inlined: every typed field read calls it, and a copy in each would be most of their code.
    #[inline(never)]
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k.is(key))
            .map(|(_, v)| v)
    }
}

impl<'a> Value<'a> {
    /// The string's decoded text, if this is a string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match self {
            Value::String(s) => Some(s.text()),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(v: &Value<'_>) -> String {
        v.as_str().unwrap().into_owned()
    }

    #[test]
    fn reads_every_kind_and_keeps_raw_text() {
        let body = r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}} "#;
        let v = parse(body).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(o.raw, body.trim());
        let Some(Value::Array(a)) = o.get("a") else {
            panic!("not an array")
        };
        assert_eq!(a.raw, "[1, -2.5e3, true, false, null]");
        assert_eq!(
            a.items,
            vec![
                Value::Number("1"),
                Value::Number("-2.5e3"),
                Value::Bool(true),
                Value::Bool(false),
                Value::Null
            ]
        );
        let b = o.get("b").unwrap().as_object().unwrap();
        assert_eq!(b.raw, r#"{"c": "d"}"#);
        assert_eq!(text_of(b.get("c").unwrap()), "d");
        assert!(o.get("missing").is_none());
    }

    #[test]
    fn decodes_escapes_and_surrogate_pairs() {
        let v = parse(r#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00\ud800x""#).unwrap();
        assert_eq!(text_of(&v), "a\"b\\c/d\n\té😀\u{fffd}x");
        let plain = parse(r#""héllo""#).unwrap();
        assert!(matches!(plain.as_str(), Some(Cow::Borrowed("héllo"))));
    }

    #[test]
    fn strings_end_and_escape_wherever_the_special_byte_falls() {
        // Eight bytes at a time are skipped: every position of the byte that stops the skip,
        // inside and across words, must still be seen.
        for at in 0..24 {
            let plain = "é".repeat(12); // 24 bytes of two-byte characters
            let (head, tail) = plain.split_at(at - at % 2);
            let escaped = format!("\"{head}\\n{tail}\"");
            assert_eq!(
                text_of(&parse(&escaped).unwrap()),
                format!("{head}\n{tail}")
            );
            let two = format!("[\"{head}\",\"{tail}\"]");
            let v = parse(&two).unwrap();
            let Value::Array(a) = v else { panic!() };
            assert_eq!(a.items.len(), 2);
            let bad = format!("\"{head}\u{1f}{tail}\"");
            let e = parse(&bad).unwrap_err();
            assert_eq!((e.kind, e.at), (SyntaxKind::Unexpected, 1 + head.len()));
        }
    }

    #[test]
    fn escaped_keys_match_their_decoded_text_and_the_last_repeat_wins() {
        let v = parse(r#"{"t\u0079pe":"x","n":1,"n":2}"#).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(text_of(o.get("type").unwrap()), "x");
        assert_eq!(o.get("n"), Some(&Value::Number("2")));
    }

    #[test]
    fn rejects_what_is_not_json_with_a_position_and_no_content() {
        let cases = [
            ("", SyntaxKind::Truncated, 0),
            ("{", SyntaxKind::Truncated, 1),
            (r#"{"a":1,}"#, SyntaxKind::Unexpected, 7),
            (r#"{"a" 1}"#, SyntaxKind::Unexpected, 5),
            ("[01]", SyntaxKind::Unexpected, 2),
            ("[1.]", SyntaxKind::Unexpected, 3),
            ("[1e]", SyntaxKind::Unexpected, 3),
            ("[tru]", SyntaxKind::Unexpected, 1),
            ("\"a\u{1}\"", SyntaxKind::Unexpected, 2),
            (r#""\x""#, SyntaxKind::Unexpected, 2),
            (r#""\u12G4""#, SyntaxKind::Unexpected, 5),
            ("\"open", SyntaxKind::Truncated, 5),
            ("{} {}", SyntaxKind::Trailing, 3),
        ];
        for (text, kind, at) in cases {
            assert_eq!(parse(text), Err(SyntaxError { kind, at }), "{text:?}");
        }
        let secret = "{\"body\":\"my card is 4111\"";
        let shown = parse(secret).unwrap_err().to_string();
        assert_eq!(shown, "truncated at byte 25");
        assert_eq!(
            parse_bytes(b"[\"\xff\"]").unwrap_err(),
            SyntaxError {
                kind: SyntaxKind::Unexpected,
                at: 2
            }
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep).unwrap_err().kind, SyntaxKind::TooDeep);
        let hostile = "[".repeat(100_000);
        assert_eq!(parse(&hostile).unwrap_err().kind, SyntaxKind::TooDeep);
    }

    #[test]
    fn any_text_is_read_or_refused_without_panicking() {
        // Every prefix of a real payload (a body cut short anywhere), and a few thousand texts
        // made of JSON's own characters: each either reads or is refused with a position
        // inside the text.
        let payload = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[{"from":"1650","id":"wamid.\u00e9","text":{"body":"caf\u00e9 \"ok\" \ud83d\ude00"},"n":-1.5e3,"t":true,"f":false,"z":null}]}}]}]}"#;
        assert!(parse(payload).is_ok());
        for end in 0..payload.len() {
            if let Some(cut) = payload.get(..end) {
                match parse(cut) {
                    Ok(_) => panic!("a cut payload read as JSON: {end}"),
                    Err(e) => assert!(e.at <= cut.len()),
                }
            }
        }
        let alphabet: Vec<char> = r#"{}[]":,\ tfnrue0123456789.-+eEaé"#.chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                text.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            if let Err(e) = parse(&text) {
                assert!(e.at <= text.len(), "{text:?}");
            } else if let Ok(Value::String(s)) = parse(&text) {
                let _ = s.text();
            }
        }
    }
}
