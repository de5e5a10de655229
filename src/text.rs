//! Text from input files shown on a terminal: control characters are escaped so a config's names
//! cannot move the cursor, recolour or retitle the user's terminal.

/// `s` with every control character (C0 other than tab and newline, DEL, C1) written as `\u{..}`.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(is_escaped) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A name (id, model or chip name) shown on one line: newlines and tabs are escaped too.
pub fn escape_name(s: &str) -> String {
    escape_controls(s)
        .replace('\n', "\\u{a}")
        .replace('\t', "\\u{9}")
}

fn is_escaped(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_only() {
        assert_eq!(escape_controls("My\u{1b}[31mChip"), "My\\u{1b}[31mChip");
        assert_eq!(escape_controls("a\u{7f}b\u{9b}c"), "a\\u{7f}b\\u{9b}c");
        assert_eq!(
            escape_controls("GQA 32q/8kv×128\nnext"),
            "GQA 32q/8kv×128\nnext"
        );
        assert_eq!(escape_name("a\nb\tc"), "a\\u{a}b\\u{9}c");
    }
}
