//! What a hit saved (the provider latency, money and tokens of the call it replaced), summed
//! the way Python sums numbers, so the totals match those the Python side keeps.

/// One savings figure as stored with an entry: an int or a float from 0 to 2**63-1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

/// latency_s, cost_usd, tokens of one entry.
pub type Saved = [Num; 3];

/// A running total: an int until a float is added (Python's `0 + 1 + 0.5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Total {
    Int(i128),
    Float(f64),
}

impl Total {
    pub const ZERO: Total = Total::Int(0);

    pub fn plus(self, value: Num) -> Total {
        match (self, value) {
            (Total::Int(a), Num::Int(b)) => Total::Int(a + b as i128),
            (Total::Int(a), Num::Float(b)) => Total::Float(a as f64 + b),
            (Total::Float(a), Num::Int(b)) => Total::Float(a + b as f64),
            (Total::Float(a), Num::Float(b)) => Total::Float(a + b),
        }
    }
}

impl Num {
    /// An int savings figure, when it is one `put` accepts (0 to 2**63-1).
    pub fn int(v: i64) -> Option<Num> {
        (v >= 0).then_some(Num::Int(v))
    }

    /// A float savings figure, when it is one `put` accepts (finite, 0 to 2**63-1).
    pub fn float(v: f64) -> Option<Num> {
        // 2**63 exactly: no float lies between 2**63-1 and it; NaN fails both tests.
        (0.0..9_223_372_036_854_775_808.0)
            .contains(&v)
            .then_some(Num::Float(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_keep_python_types() {
        let t = Total::ZERO.plus(Num::Int(2)).plus(Num::Int(3));
        assert_eq!(t, Total::Int(5));
        assert_eq!(t.plus(Num::Float(0.5)), Total::Float(5.5));
        assert_eq!(
            Total::Float(0.1).plus(Num::Float(0.2)),
            Total::Float(0.1 + 0.2)
        );
        assert_eq!(
            Total::Int(i64::MAX as i128).plus(Num::Int(i64::MAX)),
            Total::Int(2 * i64::MAX as i128)
        );
    }

    #[test]
    fn only_what_put_accepts() {
        assert_eq!(Num::int(-1), None);
        assert_eq!(Num::float(-0.5), None);
        assert_eq!(Num::float(f64::NAN), None);
        assert_eq!(Num::float(f64::INFINITY), None);
        assert_eq!(Num::float(9_223_372_036_854_775_808.0), None);
        assert_eq!(
            Num::float(9_223_372_036_854_774_784.0),
            Some(Num::Float(9_223_372_036_854_774_784.0))
        );
        assert_eq!(Num::int(i64::MAX), Some(Num::Int(i64::MAX)));
    }
}
