//! The path of a refused JSON text's first problem, found from where serde_json stopped.
//!
//! The reader keeps no path while it reads: that would cost an allocation per key on every
//! read, and a second copy of every type's reader in the `.wasm`. Only a refused text is looked
//! at again, here: a small scanner walks the bytes serde_json consumed before it stopped and
//! names the value it was in, as `a.b[2].c`. The rules follow serde_json's reader, so the path
//! is the one a tracking deserializer (`serde_path_to_error`, which the reader used before)
//! names: `evaluator/tests/it/place.rs` checks that on a quarter of a million refused texts
//! (mutated corpus bundles, inputs and promotions).
//!
//! How serde_json places an error, and so how the scanner reads it:
//! - inside a value, or right after a value it finished (a wrong type, a bad decimal, a missing
//!   field once the object's `}` is read): that value;
//! - right after an object's key (an unknown field): the key, except a duplicate field, which
//!   the object reports;
//! - where a separator is wanted (a missing comma, a trailing comma, the end of the text): the
//!   object, with `?` for the key not read, or the array;
//! - an object where an enum is wanted: the enum.
//!
//! An error raised after a value's read has returned (serde's second step for an internally
//! tagged enum, or a check in a hand-written `Deserialize` after an inner read) would be placed
//! at whatever the reader reads next; such types are read inside their own object's read
//! instead (`model::reward`).

use serde_json::error::Category;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// A key that was not read (a syntax error where a key should be).
    Unknown,
    Index(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// After `{` or `[`, before anything.
    Start,
    /// Inside an object's key.
    Key,
    /// After a key, before its `:`.
    AfterKey,
    /// After `:`, before the value.
    AfterColon,
    /// Inside a value: a scalar's bytes, or a container's, whose own frame is then on top.
    InValue,
    /// After a value.
    AfterValue,
    /// After `,`.
    AfterComma,
}

struct Frame {
    object: bool,
    /// The key being read or last read (objects).
    key: Option<String>,
    /// The index of the current element (arrays).
    index: usize,
    phase: Phase,
}

impl Frame {
    fn new(object: bool) -> Frame {
        Frame {
            object,
            key: None,
            index: 0,
            phase: Phase::Start,
        }
    }

    /// The step from this container to its current value.
    fn slot(&self) -> Segment {
        match (&self.key, self.object) {
            (_, false) => Segment::Index(self.index),
            (Some(k), true) => Segment::Key(k.clone()),
            (None, true) => Segment::Unknown,
        }
    }
}

/// A string just after a backslash.
const AFTER_BACKSLASH: u8 = 5;

/// Where a scalar token stands.
#[derive(Clone, Copy)]
enum Token {
    /// A string, and where it stands in an escape: the hex digits of a `\u` escape still to
    /// come (1 to 4), or just after its backslash ([`AFTER_BACKSLASH`]).
    Str(u8),
    /// A number, and whether it may end here.
    Number(NumberState),
    /// `true`, `false` or `null`: the bytes still expected.
    Literal(&'static [u8]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NumberState {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

impl NumberState {
    fn accepts(self) -> bool {
        matches!(
            self,
            NumberState::Zero | NumberState::Int | NumberState::Frac | NumberState::ExpDigits
        )
    }

    fn next(self, b: u8) -> Option<NumberState> {
        use NumberState::*;
        Some(match (self, b) {
            (Minus, b'0') => Zero,
            (Minus, b'1'..=b'9') => Int,
            (Int, b'0'..=b'9') => Int,
            (Zero | Int, b'.') => Dot,
            (Dot | Frac, b'0'..=b'9') => Frac,
            (Zero | Int | Frac, b'e' | b'E') => Exp,
            (Exp, b'+' | b'-') => ExpSign,
            (Exp | ExpSign | ExpDigits, b'0'..=b'9') => ExpDigits,
            _ => return None,
        })
    }
}

/// The path (`cart.lines[2].quantity`) of the value an error of serde_json's is about, read
/// from the text it was reading; `None` for the top level.
pub(super) fn path_of(bytes: &[u8], error: &serde_json::Error) -> Option<String> {
    let end = offset(bytes, error.line(), error.column())?;
    let segments = locate(bytes, end, error);
    if segments.is_empty() {
        return None;
    }
    let mut path = String::new();
    for s in &segments {
        let step = match s {
            Segment::Index(i) => format!("[{i}]"),
            Segment::Key(k) => k.clone(),
            Segment::Unknown => "?".into(),
        };
        // serde_path_to_error's form: keys joined by dots, indices appended.
        if !path.is_empty() && !matches!(s, Segment::Index(_)) {
            path.push('.');
        }
        path.push_str(&step);
    }
    Some(path)
}

/// The byte offset of serde_json's 1-based line and its column (bytes consumed on that line).
fn offset(bytes: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let start = if line == 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    Some((start + column).min(bytes.len()))
}

/// The segments of the value serde_json was reading when it stopped after `end` bytes.
fn locate(bytes: &[u8], end: usize, error: &serde_json::Error) -> Vec<Segment> {
    let mut stack: Vec<Frame> = Vec::new();
    // The top level's phase, as a frame's.
    let mut root = Phase::Start;
    let mut token: Option<Token> = None;
    let mut key_start = 0;
    // Where the scan stopped on a byte that does not belong where it is (a syntax error
    // there), the state being the one before it.
    let mut stopped = None;

    let mut i = 0;
    while let Some(&b) = bytes.get(i).filter(|_| i < end) {
        let phase = stack.last().map_or(root, |f| f.phase);
        // Inside a token: a string ends at its quote, a number or literal where its grammar
        // says (the byte that ends a number is then read as what follows it).
        if let Some(t) = token {
            match t {
                // After a backslash: `u` starts the four bytes of a `\u` escape, which serde_json
                // reads whatever they are; anything else ends the escape.
                Token::Str(AFTER_BACKSLASH) => {
                    token = Some(Token::Str(if b == b'u' { 4 } else { 0 }))
                }
                Token::Str(left @ 1..) => token = Some(Token::Str(left - 1)),
                Token::Str(0) if b == b'\\' => token = Some(Token::Str(AFTER_BACKSLASH)),
                Token::Str(0) if b == b'"' => {
                    token = None;
                    if phase == Phase::Key {
                        let key = bytes
                            .get(key_start..=i)
                            .and_then(|k| serde_json::from_slice(k).ok());
                        if let Some(f) = stack.last_mut() {
                            f.key = key;
                            f.phase = Phase::AfterKey;
                        }
                    } else {
                        set_phase(&mut stack, &mut root, Phase::AfterValue);
                    }
                }
                Token::Str(0) => {}
                Token::Literal(rest) => {
                    if rest.first() != Some(&b) {
                        stopped = Some(i);
                        break;
                    }
                    match rest.get(1..) {
                        Some(left) if !left.is_empty() => token = Some(Token::Literal(left)),
                        _ => {
                            token = None;
                            set_phase(&mut stack, &mut root, Phase::AfterValue);
                        }
                    }
                }
                Token::Number(n) => match n.next(b) {
                    Some(next) => token = Some(Token::Number(next)),
                    None if !n.accepts() || b.is_ascii_digit() => {
                        stopped = Some(i);
                        break;
                    }
                    None => {
                        // The number ended before this byte: read it again after the number.
                        token = None;
                        set_phase(&mut stack, &mut root, Phase::AfterValue);
                        continue;
                    }
                },
            }
            i += 1;
            continue;
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let object = stack.last().map(|f| f.object);
        match (phase, b, object) {
            // Where a key is wanted.
            (Phase::Start | Phase::AfterComma, b'"', Some(true)) => {
                key_start = i;
                token = Some(Token::Str(0));
                if let Some(f) = stack.last_mut() {
                    f.key = None;
                    f.phase = Phase::Key;
                }
            }
            (Phase::AfterKey, b':', _) => set_phase(&mut stack, &mut root, Phase::AfterColon),
            (Phase::AfterValue, b',', Some(object)) => {
                if let Some(f) = stack.last_mut() {
                    f.phase = Phase::AfterComma;
                    if !object {
                        f.index += 1;
                    }
                }
            }
            (Phase::Start | Phase::AfterValue, b'}', Some(true))
            | (Phase::Start | Phase::AfterValue, b']', Some(false)) => {
                stack.pop();
                set_phase(&mut stack, &mut root, Phase::AfterValue);
            }
            // Where a value is wanted.
            (Phase::Start, _, None)
            | (Phase::AfterColon, _, Some(true))
            | (Phase::Start | Phase::AfterComma, _, Some(false)) => {
                token = match b {
                    b'{' | b'[' => None,
                    b'"' => Some(Token::Str(0)),
                    b'-' => Some(Token::Number(NumberState::Minus)),
                    b'0' => Some(Token::Number(NumberState::Zero)),
                    b'1'..=b'9' => Some(Token::Number(NumberState::Int)),
                    b't' => Some(Token::Literal(b"rue")),
                    b'f' => Some(Token::Literal(b"alse")),
                    b'n' => Some(Token::Literal(b"ull")),
                    _ => {
                        stopped = Some(i);
                        break;
                    }
                };
                set_phase(&mut stack, &mut root, Phase::InValue);
                if b == b'{' || b == b'[' {
                    stack.push(Frame::new(b == b'{'));
                }
            }
            _ => {
                stopped = Some(i);
                break;
            }
        }
        i += 1;
    }

    let data = error.classify() == Category::Data;
    // A number the text ended in was whole: the reader wanted what follows it.
    if let Some(Token::Number(n)) = token {
        if n.accepts() && error.classify() == Category::Eof {
            set_phase(&mut stack, &mut root, Phase::AfterValue);
        }
    }
    // `{}` where serde_json read an enum: it wanted the variant's name at the `}`.
    let empty_object = stopped.is_none()
        && !data
        && bytes
            .get(..end)
            .and_then(|b| b.strip_suffix(b"}"))
            .is_some_and(|b| b.trim_ascii_end().ends_with(b"{"));
    let Some((top, outer)) = stack.split_last() else {
        return Vec::new();
    };
    // The container's own path, and its current value's.
    let own = |with: Option<Segment>| {
        let mut p: Vec<Segment> = outer.iter().map(Frame::slot).collect();
        p.extend(with);
        p
    };
    match top.phase {
        // In a scalar, or at a value to read: the value's own reader stopped.
        Phase::InValue | Phase::AfterColon => own(Some(top.slot())),
        Phase::AfterValue if empty_object => own(Some(top.slot())),
        // A value read, then refused (a wrong type, a missing field once `}` is read).
        Phase::AfterValue if data => own(Some(top.slot())),
        // A key read, then refused (an unknown field), except a field read twice, which the
        // object reports, and an object read as an enum, whose key is the variant's name.
        Phase::AfterKey
            if data && {
                let m = error.to_string();
                !m.starts_with("duplicate field") && !m.starts_with("unknown variant")
            } =>
        {
            own(Some(top.slot()))
        }
        Phase::AfterKey => own(None),
        // Where a separator or a key is wanted: an object reports its key as not read.
        _ if top.object => own(Some(Segment::Unknown)),
        // An array's element reader refused what it found (a wrong type, a byte that starts no
        // value), unless that was a `]` after a comma.
        Phase::Start | Phase::AfterComma
            if data || stopped.is_some_and(|at| bytes.get(at) != Some(&b']')) =>
        {
            own(Some(top.slot()))
        }
        _ => own(None),
    }
}

fn set_phase(stack: &mut [Frame], root: &mut Phase, phase: Phase) {
    match stack.last_mut() {
        Some(f) => f.phase = phase,
        None => *root = phase,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        a: Vec<Line>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        n: u32,
        s: String,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    enum Kind {
        X,
    }

    fn path(text: &str) -> Option<String> {
        let e = serde_json::from_slice::<Doc>(text.as_bytes()).unwrap_err();
        super::path_of(text.as_bytes(), &e)
    }

    /// One example of each rule; `tests/it/place.rs` checks them all against a tracking reader.
    #[test]
    fn names_the_value_the_reader_stopped_in() {
        let cases = [
            (r#"{"a":[{"n":1,"s":2}]}"#, Some("a[0].s")), // a wrong type
            (r#"{"a":[{"n":-1,"s":"x"}]}"#, Some("a[0].n")), // a value out of range
            (r#"{"a":[{"n":1}]}"#, Some("a[0]")),         // a missing field, after `}`
            (r#"{"a":[{"n":1,"t":1}]}"#, Some("a[0].t")), // an unknown field
            (r#"{"a":[{"n":1,"n":1}]}"#, Some("a[0]")),   // a duplicate field
            (r#"{"a":[{"n":1 "s":"x"}]}"#, Some("a[0].?")), // a missing comma
            (r#"{"a":[{"n":1,"s":"x"},]}"#, Some("a")),   // a trailing comma in an array
            (r#"{"a":[{"n":1,"s":"x\q"}]}"#, Some("a[0].s")), // a bad escape
            (r#"{"a":[{"n":1,"s":"x"}],"kind":{}}"#, Some("kind")), // `{}` for an enum
            (r#"{"a":[{"n":1,"s":"x"}],"kind":{"Y":1}}"#, Some("kind")), // an unknown variant
            (r#"{"a":[{"n":1"#, Some("a[0].?")),          // the end of the text
            (r#"{"a":[{"n":"#, Some("a[0].n")),
            (r#"{"a":[x]}"#, Some("a[0]")),
            (r#"{"a":7}"#, Some("a")),
            (r#"[]"#, None),
        ];
        for (text, want) in cases {
            assert_eq!(path(text).as_deref(), want, "{text}");
        }
    }
}
