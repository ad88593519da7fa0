//! The terminal styles the CLI paints with, in one place. Each span closes
//! only what it opened (normal intensity, default foreground), as clack's
//! colour library does, so a dimmed span inside a grey frame keeps the
//! frame's colour; the bytes match the original's.

use anstyle::{AnsiColor, Color, Style};

const DIM: Style = Style::new().dimmed();
const GRAY: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::BrightBlack)));
/// SGR 22: normal intensity (ends dim or bold only).
const END_INTENSITY: &str = "\x1b[22m";
/// SGR 39: default foreground (ends a colour only).
const END_FOREGROUND: &str = "\x1b[39m";

/// `text` dimmed.
pub fn dim(text: &str) -> String {
    format!("{}{text}{END_INTENSITY}", DIM.render())
}

/// `text` in grey (bright black), the colour of clack's frame.
pub fn gray(text: &str) -> String {
    format!("{}{text}{END_FOREGROUND}", GRAY.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_clack() {
        assert_eq!(dim("x"), "\x1b[2mx\x1b[22m");
        assert_eq!(gray("│"), "\x1b[90m│\x1b[39m");
    }
}
