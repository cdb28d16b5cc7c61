//! Names from outside (requests, the configuration) checked for what would
//! mislead a reader: a control character (a newline starts a new row of a
//! listing) or one that turns the text's direction (U+202E shows "fdp.exe"
//! as "exe.pdf"). Any script is welcome otherwise.

/// Why `c` may not be in a name, if it may not.
pub fn forbidden(c: char) -> Option<&'static str> {
    if c.is_control() {
        Some("a control character")
    } else if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
    {
        Some("a character that changes the text's direction")
    } else {
        None
    }
}

/// The first forbidden character of `text`: its place (1-based), the
/// character, and why.
pub fn first_forbidden(text: &str) -> Option<(usize, char, &'static str)> {
    text.chars().enumerate().find_map(|(i, c)| forbidden(c).map(|why| (i + 1, c, why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_direction_marks_are_found_with_their_place() {
        assert_eq!(first_forbidden("Ω Centauri"), None);
        assert_eq!(first_forbidden("M31\nx"), Some((4, '\n', "a control character")));
        assert_eq!(first_forbidden("a\u{85}").map(|f| f.0), Some(2));
        assert_eq!(
            first_forbidden("ab\u{202e}c").map(|f| f.2),
            Some("a character that changes the text's direction")
        );
    }
}
