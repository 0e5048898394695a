//! Strings made of parts and numbers, without `core::fmt`: the keys and request bodies
//! each delivery builds (a dozen per known contact's text). Through `format!` each part went
//! through the formatting machinery (its padding and its dynamic calls: about 4 % of a
//! message's instructions natively, and small functions that wasm runs unoptimised).

/// The parts, one after the other.
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// A number in decimal (what `to_string` writes for it).
pub fn decimal(n: u64) -> String {
    let mut out = String::new();
    push_decimal(&mut out, n);
    out
}

/// Appends a number's decimal digits (the JSON writer's integers too).
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in digits.get(at..).unwrap_or_default() {
        out.push(char::from(*d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_each_other_and_numbers_read_as_to_string() {
        assert_eq!(concat(&["c:", "ab", ":m:", "cd"]), "c:ab:m:cd");
        assert_eq!(concat(&[]), "");
        for n in [0, 7, 10, 99, 100, 65_535, 1_732_000_000, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
