//! Canonical request keys.
//!
//! A request is a JSON-like tree. [`KeyEncoder`] writes that tree as a prefix-free byte stream
//! in which equal requests (as JSON compares them) give equal bytes and different requests give
//! different bytes; the 128-bit xxh3 of that stream is the cache key.
//!
//! The rules that make the stream canonical:
//! - maps are written with their keys sorted by UTF-8 bytes, so key order never matters;
//! - a number is written by value: an integral float is written as the integer it equals
//!   (`1.0` and `1` give the same bytes), any other float by its IEEE bits, all NaNs alike;
//! - booleans have their own tags, so `true` never equals `1`;
//! - every string, byte string, list and map carries its length, so no two trees share bytes;
//! - [`KEY_SCHEMA_VERSION`] starts the stream, so a change of these rules changes every key.

use xxhash_rust::xxh3::xxh3_128;

use crate::error::CoreError;

/// Bumped whenever the encoding rules change, so old keys can never match new requests.
pub const KEY_SCHEMA_VERSION: u8 = 1;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_BIGINT: u8 = 4;
const TAG_FLOAT: u8 = 5;
const TAG_STR: u8 = 6;
const TAG_BYTES: u8 = 7;
const TAG_LIST: u8 = 8;
const TAG_MAP: u8 = 9;

/// 2^63 as f64: integral floats in [-2^63, 2^63) are written as i64.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// Largest buffer an encoder keeps between requests.
pub const KEPT_CAPACITY: usize = 64 * 1024;

/// Writes a request tree as canonical bytes. Reuse one encoder (after [`KeyEncoder::reset`])
/// to avoid reallocating the buffer.
#[derive(Default)]
pub struct KeyEncoder {
    buf: Vec<u8>,
}

impl KeyEncoder {
    pub fn new() -> Self {
        let mut enc = KeyEncoder {
            buf: Vec::with_capacity(1024),
        };
        enc.reset();
        enc
    }

    /// Empties the buffer and writes the schema version.
    pub fn reset(&mut self) {
        self.trim();
        self.buf.clear();
        self.buf.push(KEY_SCHEMA_VERSION);
    }

    /// Gives back the memory of a buffer grown past `KEPT_CAPACITY` by one large request, so
    /// a reused (per-thread) encoder does not keep the largest request it ever saw.
    pub fn trim(&mut self) {
        if self.buf.capacity() > KEPT_CAPACITY {
            self.buf.clear();
            self.buf.shrink_to(KEPT_CAPACITY);
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    #[inline]
    fn len_prefix(&mut self, n: usize) {
        self.buf.extend_from_slice(&(n as u64).to_le_bytes());
    }

    #[inline]
    pub fn null(&mut self) {
        self.buf.push(TAG_NULL);
    }

    #[inline]
    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { TAG_TRUE } else { TAG_FALSE });
    }

    #[inline]
    pub fn int(&mut self, v: i64) {
        self.buf.push(TAG_INT);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// An integer outside i64, given as its decimal digits (with a leading '-' if negative).
    pub fn big_int(&mut self, decimal: &str) {
        self.buf.push(TAG_BIGINT);
        self.len_prefix(decimal.len());
        self.buf.extend_from_slice(decimal.as_bytes());
    }

    /// A float, written as the integer it equals when it is integral.
    pub fn float(&mut self, v: f64) {
        if v.is_finite() && v.fract() == 0.0 {
            if (-I64_BOUND..I64_BOUND).contains(&v) {
                // -0.0 lands here too and becomes 0, as JSON compares it.
                self.int(v as i64);
            } else {
                // An integral f64 prints exactly with zero decimals.
                self.big_int(&format!("{v:.0}"));
            }
        } else {
            let bits = if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            };
            self.buf.push(TAG_FLOAT);
            self.buf.extend_from_slice(&bits.to_le_bytes());
        }
    }

    #[inline]
    pub fn str(&mut self, s: &str) {
        self.buf.push(TAG_STR);
        self.len_prefix(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    #[inline]
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.push(TAG_BYTES);
        self.len_prefix(b.len());
        self.buf.extend_from_slice(b);
    }

    /// Starts a list of `n` items; the caller then writes the `n` items.
    #[inline]
    pub fn begin_list(&mut self, n: usize) {
        self.buf.push(TAG_LIST);
        self.len_prefix(n);
    }

    /// Starts a map of `n` entries; the caller then writes `n` (str key, value) pairs
    /// in ascending order of the keys' bytes.
    #[inline]
    pub fn begin_map(&mut self, n: usize) {
        self.buf.push(TAG_MAP);
        self.len_prefix(n);
    }

    /// Writes a whole [`Value`] tree.
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::Float(f) => self.float(*f),
            Value::Str(s) => self.str(s),
            Value::Bytes(b) => self.bytes(b),
            Value::List(items) => {
                self.begin_list(items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Map(entries) => {
                let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                self.begin_map(sorted.len());
                for (k, item) in sorted {
                    self.str(k);
                    self.value(item);
                }
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The 128-bit key of what was written since the last reset.
    pub fn finish(&self) -> u128 {
        xxh3_128(&self.buf)
    }
}

/// A request tree for callers outside Python (and for tests). Map keys are strings, as in JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

/// The key of a whole tree.
pub fn key_of(v: &Value) -> u128 {
    let mut enc = KeyEncoder::new();
    enc.value(v);
    enc.finish()
}

/// The key of a caller-chosen string key (from a custom key function).
pub fn key_of_str(s: &str) -> u128 {
    xxh3_128(s.as_bytes())
}

/// A key as 32 lower-case hex digits.
pub fn key_to_hex(key: u128) -> String {
    // By table: the same text as `format!("{key:032x}")`, without the formatting machinery.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in key.to_be_bytes() {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// Parses 32 hex digits back into a key; None for anything else.
pub fn key_from_hex(s: &str) -> Option<u128> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// A key as callers pass it around: 32 hex digits (from [`key_to_hex`]) are that key; any other
/// text (from a custom key function) is hashed with [`key_of_str`].
pub fn key_from_text(s: &str) -> u128 {
    key_from_hex(s).unwrap_or_else(|| key_of_str(s))
}

/// Puts a map's entries in the order [`KeyEncoder::begin_map`] expects (ascending key bytes);
/// two entries with the same key text (an int key and a str key that read alike, say) are an
/// error, since the request would be ambiguous.
pub fn sort_map_entries<K: AsRef<str>, V>(entries: &mut [(K, V)]) -> Result<(), CoreError> {
    entries.sort_unstable_by(|a, b| a.0.as_ref().as_bytes().cmp(b.0.as_ref().as_bytes()));
    if entries
        .windows(2)
        .any(|w| w[0].0.as_ref() == w[1].0.as_ref())
    {
        return Err(CoreError::InvalidArgument(
            "a dict in the request has two keys with the same text (an int and a str?)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn map_order_does_not_matter() {
        let a = map(&[
            ("model", Value::Str("m".into())),
            ("temperature", Value::Float(0.5)),
        ]);
        let b = map(&[
            ("temperature", Value::Float(0.5)),
            ("model", Value::Str("m".into())),
        ]);
        assert_eq!(key_of(&a), key_of(&b));
    }

    #[test]
    fn numbers_compare_by_value_and_bools_are_distinct() {
        assert_eq!(key_of(&Value::Int(1)), key_of(&Value::Float(1.0)));
        assert_eq!(key_of(&Value::Int(0)), key_of(&Value::Float(-0.0)));
        assert_ne!(key_of(&Value::Int(1)), key_of(&Value::Bool(true)));
        assert_ne!(key_of(&Value::Int(0)), key_of(&Value::Bool(false)));
        assert_ne!(key_of(&Value::Int(0)), key_of(&Value::Null));
        assert_ne!(key_of(&Value::Float(0.5)), key_of(&Value::Float(0.25)));
        assert_eq!(
            key_of(&Value::Float(f64::NAN)),
            key_of(&Value::Float(-f64::NAN))
        );
    }

    #[test]
    fn large_integral_floats_equal_their_integers() {
        let mut enc = KeyEncoder::new();
        enc.big_int("100000000000000000000");
        assert_eq!(enc.finish(), key_of(&Value::Float(1e20)));
    }

    #[test]
    fn lengths_keep_neighbouring_strings_apart() {
        let a = Value::List(vec![Value::Str("ab".into()), Value::Str("c".into())]);
        let b = Value::List(vec![Value::Str("a".into()), Value::Str("bc".into())]);
        assert_ne!(key_of(&a), key_of(&b));
        assert_ne!(
            key_of(&Value::Str("x".into())),
            key_of(&Value::Bytes(b"x".to_vec()))
        );
        assert_ne!(key_of(&Value::List(vec![])), key_of(&map(&[])));
    }

    #[test]
    fn hex_round_trip() {
        let k = key_of(&Value::Str("hello".into()));
        let h = key_to_hex(k);
        assert_eq!(h.len(), 32);
        for key in [k, 0, 1, u128::MAX, 0xabc << 64] {
            assert_eq!(key_to_hex(key), format!("{key:032x}"));
        }
        assert_eq!(key_from_hex(&h), Some(k));
        assert_eq!(key_from_hex("xyz"), None);
        assert_eq!(key_from_hex(&"g".repeat(32)), None);
    }

    #[test]
    fn text_keys_are_hex_or_hashed() {
        let k = key_of(&Value::Str("hello".into()));
        assert_eq!(key_from_text(&key_to_hex(k)), k);
        assert_eq!(key_from_text("my-key"), key_of_str("my-key"));
        assert_ne!(key_from_text("my-key"), key_from_text("my-key2"));
    }

    #[test]
    fn map_entries_sort_by_bytes_and_refuse_twins() {
        let mut entries = vec![("b", 1), ("a", 2), ("B", 3)];
        sort_map_entries(&mut entries).unwrap();
        assert_eq!(entries, [("B", 3), ("a", 2), ("b", 1)]);
        let mut twins = vec![("1", 1), ("x", 0), ("1", 2)];
        assert!(sort_map_entries(&mut twins)
            .unwrap_err()
            .to_string()
            .contains("same text"));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            ".{0,8}".prop_map(Value::Str),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Map(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn reversed_maps_give_the_same_key(v in arb_value()) {
            fn reverse(v: &Value) -> Value {
                match v {
                    Value::Map(e) => Value::Map(e.iter().rev().map(|(k, x)| (k.clone(), reverse(x))).collect()),
                    Value::List(items) => Value::List(items.iter().map(reverse).collect()),
                    other => other.clone(),
                }
            }
            prop_assert_eq!(key_of(&v), key_of(&reverse(&v)));
        }

        #[test]
        fn changing_a_string_changes_the_key(a in ".{0,16}", b in ".{0,16}") {
            prop_assume!(a != b);
            let wrap = |s: &str| map(&[("messages", Value::List(vec![map(&[("content", Value::Str(s.into()))])]))]);
            prop_assert_ne!(key_of(&wrap(&a)), key_of(&wrap(&b)));
        }
    }

    /// Issue 15 item 8: one huge request must not leave a huge buffer in a reused encoder.
    #[test]
    fn a_reused_encoder_gives_back_a_huge_buffer() {
        let mut enc = KeyEncoder::new();
        let big = "x".repeat(10 << 20);
        enc.reset();
        enc.str(&big);
        let key = enc.finish();
        assert!(enc.capacity() >= 10 << 20);
        enc.trim();
        assert!(enc.capacity() <= KEPT_CAPACITY, "{}", enc.capacity());
        enc.reset();
        enc.str(&big);
        assert_eq!(enc.finish(), key);
        enc.reset();
        assert!(enc.capacity() <= KEPT_CAPACITY);
        // Small requests keep their buffer: no reallocation on the hot path.
        enc.str("small");
        let cap = enc.capacity();
        enc.reset();
        assert_eq!(enc.capacity(), cap);
    }
}
