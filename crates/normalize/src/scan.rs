//! A structural JSON scanner that finds where values end without building them.
//!
//! It lets the container walker split a file into records before any record is parsed, so a
//! cut or corrupt file still yields every record before the damage, and the damage itself is
//! reported at a byte position. It never recurses, so deep nesting cannot overflow the stack,
//! and every loop advances, so no input can hang it.

/// Outcome of scanning one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The value ends just before this offset.
    Complete(usize),
    /// The input ended inside the value.
    Truncated,
    /// A byte that cannot appear there, at this offset.
    Invalid(usize),
}

/// Offset of the first non-whitespace byte at or after `i`.
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End of the string starting at `b[i] == '"'`: the offset after its closing quote.
pub fn scan_string(b: &[u8], i: usize) -> Scan {
    let mut j = i + 1;
    loop {
        j = special_byte(b, j);
        match b.get(j) {
            None => return Scan::Truncated,
            Some(b'"') => return Scan::Complete(j + 1),
            Some(b'\\') => {
                // Skip it and the escaped byte.
                j += 2;
                if j > b.len() {
                    return Scan::Truncated;
                }
            }
            // A control character: the parser rejects it; the scanner only finds ends.
            Some(_) => j += 1,
        }
    }
}

/// The first byte at or after `j` that ends a run of plain string content: a quote, a
/// backslash or a control character (`b.len()` when there is none). Eight bytes at a time:
/// CloudTrail's strings are mostly short, where a call to `memchr` per string cost more
/// than the search. The scanner and the record parser's JSON walker both use it.
pub(crate) fn special_byte(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(j..j + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // A byte is flagged when it is '"', '\\' or below 0x20; the lowest flagged byte is
        // exact (a borrow can only flag bytes above a true one).
        let zero = |y: u64| y.wrapping_sub(ONES) & !y & HIGH;
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let mask =
            zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\'))) | below_space;
        if mask != 0 {
            return j + (mask.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while let Some(&c) = b.get(j) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return j;
        }
        j += 1;
    }
    j
}

/// Scans the value starting at `b[i]` (which must not be whitespace).
pub fn scan_value(b: &[u8], i: usize) -> Scan {
    scan_value_depth(b, i).0
}

/// [`scan_value`], with how deeply the value nests arrays and objects (a scalar is 0, `{}`
/// is 1): the record parser's depth cap is checked from it without another pass.
pub fn scan_value_depth(b: &[u8], i: usize) -> (Scan, usize) {
    if i >= b.len() {
        return (Scan::Truncated, 0);
    }
    let scan = match b[i] {
        b'"' => scan_string(b, i),
        b'{' | b'[' => return scan_container(b, i),
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                if !matches!(b[j], b'a'..=b'z' | b'0'..=b'9' | b'-' | b'+' | b'.' | b'E') {
                    return (Scan::Invalid(j), 0);
                }
                j += 1;
            }
            Scan::Complete(j)
        }
        _ => Scan::Invalid(i),
    };
    (scan, 0)
}

fn scan_container(b: &[u8], i: usize) -> (Scan, usize) {
    // Stack of closing brackets; a Vec keeps deep nesting off the call stack.
    let mut stack: Vec<u8> = Vec::with_capacity(16);
    let mut deepest = 0;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            c @ (b'{' | b'[') => {
                stack.push(if c == b'{' { b'}' } else { b']' });
                deepest = deepest.max(stack.len());
                j += 1;
            }
            c @ (b'}' | b']') => {
                if stack.pop() != Some(c) {
                    return (Scan::Invalid(j), deepest);
                }
                j += 1;
                if stack.is_empty() {
                    return (Scan::Complete(j), deepest);
                }
            }
            b'"' => match scan_string(b, j) {
                Scan::Complete(e) => j = e,
                other => return (other, deepest),
            },
            _ => {
                // Scalars, separators and whitespace: step to the next structural byte.
                j += 1;
                while j < b.len() && !matches!(b[j], b'"' | b'{' | b'[' | b'}' | b']') {
                    j += 1;
                }
            }
        }
    }
    (Scan::Truncated, deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ends_of_values() {
        let s = br#"{"a":[1,2,{"b":"x}\"]"}],"c":null} tail"#;
        assert_eq!(scan_value(s, 0), Scan::Complete(s.len() - 5));
        assert_eq!(scan_value(b"\"ab\\\"c\" ", 0), Scan::Complete(7));
        assert_eq!(scan_value(b"true,", 0), Scan::Complete(4));
        assert_eq!(scan_value(b"{\"a\":[1,2", 0), Scan::Truncated);
        assert_eq!(scan_value(b"{\"a\":\"x", 0), Scan::Truncated);
        assert_eq!(scan_value(b"{\"a\":1]", 0), Scan::Invalid(6));
        assert_eq!(scan_value(b"<html>", 0), Scan::Invalid(0));
        assert_eq!(scan_value(b"\"\\", 0), Scan::Truncated);
    }

    #[test]
    fn depth_is_that_of_the_deepest_bracket_outside_strings() {
        assert_eq!(scan_value_depth(b"1", 0), (Scan::Complete(1), 0));
        assert_eq!(scan_value_depth(b"{}", 0), (Scan::Complete(2), 1));
        let s = br#"{"a":[{"b":"[[[{{"}],"c":{}}"#;
        assert_eq!(scan_value_depth(s, 0), (Scan::Complete(s.len()), 3));
        for n in [1, 127, 128, 129, 5000] {
            let v = [vec![b'['; n], vec![b']'; n]].concat();
            assert_eq!(scan_value_depth(&v, 0), (Scan::Complete(2 * n), n));
            assert_eq!(
                crate::record::too_deep(&v),
                n > crate::record::MAX_DEPTH,
                "the scanner's depth agrees with the record parser's cap at {n}"
            );
        }
    }

    #[test]
    fn special_bytes_are_found_at_any_offset() {
        for len in 0..40 {
            for (pos, c) in [
                (None, b'a'),
                (Some(0), b'"'),
                (Some(3), b'\\'),
                (Some(9), 0x1f),
            ] {
                let mut v = vec![b'x'; len];
                v.extend_from_slice(&[0xc3, 0xa9, 0x7f, 0x20]);
                let want = match pos {
                    Some(p) if p < v.len() => {
                        v[p] = c;
                        p
                    }
                    _ => v.len(),
                };
                assert_eq!(special_byte(&v, 0), want, "{len} {pos:?}");
            }
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut v = vec![b'['; 1_000_000];
        v.extend(vec![b']'; 1_000_000]);
        assert_eq!(scan_value(&v, 0), Scan::Complete(v.len()));
    }
}
