//! Where the answer and the meta sit inside a stored envelope, without parsing it.
//!
//! Entries are stored as the bytes orjson writes for `{"v":1,"r":<answer>,"m":<meta>}`. The hit
//! path decodes only the answer (and the meta when it is not `{}`), which is cheaper than
//! decoding the whole document. [`split`] finds the two values by skipping over the answer's
//! bytes (strings with `memchr`, brackets counted); it checks nothing else.
//!
//! Soundness does not rest on this scan: the caller decodes both slices with a strict JSON
//! parser. A JSON value is never a proper prefix of a longer one followed by `,` or `}`, so when
//! `{"v":1,"r":` + A + `,"m":` + M + `}` is the whole blob and A and M each parse alone, the
//! document holds exactly `v` = 1, `r` = A and `m` = M. A scan that went wrong can only make a
//! slice fail to parse, and the caller then reads the whole envelope instead.

use std::ops::Range;

use memchr::memchr2;

const HEAD: &[u8] = br#"{"v":1,"r":"#;
const MIDDLE: &[u8] = br#","m":"#;

/// The answer's and the meta's byte ranges in an envelope written as orjson writes it, or
/// None when the blob does not have that shape.
pub fn split(blob: &[u8]) -> Option<(Range<usize>, Range<usize>)> {
    let answer_start = HEAD.len();
    if !blob.starts_with(HEAD) || blob.last() != Some(&b'}') {
        return None;
    }
    let answer_end = skip_value(blob, answer_start)?;
    let meta_start = answer_end + MIDDLE.len();
    if blob.get(answer_end..meta_start)? != MIDDLE {
        return None;
    }
    let meta_end = blob.len() - 1;
    if meta_start >= meta_end || blob[meta_start] != b'{' {
        return None;
    }
    Some((answer_start..answer_end, meta_start..meta_end))
}

/// The end of the JSON value starting at `start` (orjson writes no whitespace).
fn skip_value(blob: &[u8], start: usize) -> Option<usize> {
    match *blob.get(start)? {
        b'"' => skip_string(blob, start),
        b'{' | b'[' => skip_container(blob, start),
        _ => {
            // A number, true, false or null: up to the next delimiter.
            let rest = blob.get(start..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']'))
                .unwrap_or(rest.len());
            (len > 0).then_some(start + len)
        }
    }
}

/// The end of the string whose opening quote is at `start` (one past its closing quote).
fn skip_string(blob: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr2(b'"', b'\\', blob.get(i..)?)?;
        if blob[i] == b'"' {
            return Some(i + 1);
        }
        i += 2; // a backslash and the byte it escapes
    }
}

/// The end of the object or array opening at `start`.
fn skip_container(blob: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < blob.len() {
        match blob[i] {
            b'"' => {
                i = skip_string(blob, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(blob: &str) -> Option<(&str, &str)> {
        split(blob.as_bytes()).map(|(a, m)| (&blob[a], &blob[m]))
    }

    #[test]
    fn finds_answer_and_meta() {
        assert_eq!(
            parts(r#"{"v":1,"r":{"a":[1,2]},"m":{}}"#),
            Some((r#"{"a":[1,2]}"#, "{}"))
        );
        assert_eq!(
            parts(r#"{"v":1,"r":"x","m":{"tokens":3}}"#),
            Some((r#""x""#, r#"{"tokens":3}"#))
        );
        assert_eq!(
            parts(r#"{"v":1,"r":12.5e3,"m":{}}"#),
            Some(("12.5e3", "{}"))
        );
        assert_eq!(parts(r#"{"v":1,"r":null,"m":{}}"#), Some(("null", "{}")));
        assert_eq!(parts(r#"{"v":1,"r":[],"m":{}}"#), Some(("[]", "{}")));
    }

    #[test]
    fn strings_hide_brackets_quotes_and_the_middle() {
        let blob = r#"{"v":1,"r":{"t":"} ] \" \\\",\"m\":{","m":1},"m":{"n":"}"}}"#;
        assert_eq!(
            parts(blob),
            Some((r#"{"t":"} ] \" \\\",\"m\":{","m":1}"#, r#"{"n":"}"}"#))
        );
        assert_eq!(parts(r#"{"v":1,"r":"\\","m":{}}"#), Some((r#""\\""#, "{}")));
        // UTF-8 in strings is skipped byte by byte.
        assert_eq!(
            parts(r#"{"v":1,"r":"é}ü","m":{}}"#),
            Some((r#""é}ü""#, "{}"))
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        for blob in [
            "",
            "{",
            r#"{"v":2,"r":1,"m":{}}"#,
            r#"{"r":1,"v":1,"m":{}}"#,
            r#"{"v":1,"r":1}"#,
            r#"{"v":1,"r":1,"x":{}}"#,
            r#"{"v":1,"r":1,"m":[]}"#,
            r#"{"v":1,"r":1,"m":"#,
            r#"{"v":1,"r":"unterminated,"m":{}"#,
            r#"{"v":1,"r":[1,2,"m":{}}"#,
            r#"{"v":1,"r":,"m":{}}"#,
            r#"{"v":1,"r":"\"#,
        ] {
            assert_eq!(split(blob.as_bytes()), None, "{blob}");
        }
    }

    #[test]
    fn unbalanced_closers_do_not_panic() {
        for blob in [
            r#"{"v":1,"r":]],"m":{}}"#,
            r#"{"v":1,"r":}"#,
            r#"{"v":1,"r":"\"#,
        ] {
            let _ = split(blob.as_bytes());
        }
    }
}
