//! Pi's output limits: head truncation for what the model reads from the
//! start (read, grep, ls, find), tail truncation for command output (bash).

pub const MAX_LINES: usize = 2000;
pub const MAX_BYTES: usize = 50 * 1024;
pub const GREP_MAX_LINE_CHARS: usize = 500;

/// `123B`, `4.5KB`, `1.2MB`, as Pi prints sizes in its notices.
pub fn format_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes}B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1}KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1}MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncatedBy {
    Lines,
    Bytes,
}

#[derive(Debug, Clone)]
pub struct Truncation {
    pub content: String,
    pub truncated_by: Option<TruncatedBy>,
    pub total_lines: usize,
    pub output_lines: usize,
    pub output_bytes: usize,
    /// Head mode: the first line alone is over the byte limit.
    pub first_line_exceeds: bool,
    /// Tail mode: only the end of the last line fitted.
    pub last_line_partial: bool,
}

impl Truncation {
    pub fn truncated(&self) -> bool {
        self.truncated_by.is_some()
    }

    /// Everything fitted.
    fn whole(text: &str, total_lines: usize) -> Truncation {
        Truncation {
            content: text.to_string(),
            truncated_by: None,
            total_lines,
            output_lines: total_lines,
            output_bytes: text.len(),
            first_line_exceeds: false,
            last_line_partial: false,
        }
    }
}

/// Keeps whole lines from the start while both limits hold.
pub fn truncate_head(text: &str, max_lines: usize, max_bytes: usize) -> Truncation {
    let lines: Vec<&str> = text.split('\n').collect();
    let total_lines = lines.len();
    if total_lines <= max_lines && text.len() <= max_bytes {
        return Truncation::whole(text, total_lines);
    }
    if lines[0].len() > max_bytes {
        return Truncation {
            content: String::new(),
            truncated_by: Some(TruncatedBy::Bytes),
            total_lines,
            output_lines: 0,
            output_bytes: 0,
            first_line_exceeds: true,
            last_line_partial: false,
        };
    }
    let mut out = String::new();
    let mut count = 0;
    let mut by = TruncatedBy::Lines;
    for line in &lines {
        if count >= max_lines {
            by = TruncatedBy::Lines;
            break;
        }
        let extra = line.len() + usize::from(count > 0);
        if out.len() + extra > max_bytes {
            by = TruncatedBy::Bytes;
            break;
        }
        if count > 0 {
            out.push('\n');
        }
        out.push_str(line);
        count += 1;
    }
    Truncation {
        output_bytes: out.len(),
        content: out,
        truncated_by: Some(by),
        total_lines,
        output_lines: count,
        first_line_exceeds: false,
        last_line_partial: false,
    }
}

/// Keeps whole lines from the end while both limits hold; a last line
/// longer than the byte limit keeps its own tail.
pub fn truncate_tail(text: &str, max_lines: usize, max_bytes: usize) -> Truncation {
    let lines: Vec<&str> = text.split('\n').collect();
    let total_lines = lines.len();
    if total_lines <= max_lines && text.len() <= max_bytes {
        return Truncation::whole(text, total_lines);
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes = 0;
    let mut by = TruncatedBy::Lines;
    let mut partial = None;
    for line in lines.iter().rev() {
        if kept.len() >= max_lines {
            by = TruncatedBy::Lines;
            break;
        }
        let extra = line.len() + usize::from(!kept.is_empty());
        if bytes + extra > max_bytes {
            by = TruncatedBy::Bytes;
            if kept.is_empty() {
                let mut start = line.len() - max_bytes;
                while !line.is_char_boundary(start) {
                    start += 1;
                }
                partial = Some(&line[start..]);
            }
            break;
        }
        bytes += extra;
        kept.push(line);
    }
    if let Some(p) = partial {
        return Truncation {
            content: p.to_string(),
            truncated_by: Some(TruncatedBy::Bytes),
            total_lines,
            output_lines: 1,
            output_bytes: p.len(),
            first_line_exceeds: false,
            last_line_partial: true,
        };
    }
    kept.reverse();
    let content = kept.join("\n");
    Truncation {
        output_bytes: content.len(),
        output_lines: kept.len(),
        content,
        truncated_by: Some(by),
        total_lines,
        first_line_exceeds: false,
        last_line_partial: false,
    }
}

/// The text of a listing tool (ls, find, grep): its lines cut to
/// [`MAX_BYTES`], then Pi's bracketed notices in Pi's order: the result
/// limit (`limit_notice`), the byte limit, then `extra_notice`.
pub fn listing_text(
    lines: &[String],
    limit_notice: Option<String>,
    extra_notice: Option<String>,
) -> String {
    let t = truncate_head(&lines.join("\n"), usize::MAX, MAX_BYTES);
    let bytes_notice = t
        .truncated()
        .then(|| format!("{} limit reached", format_size(MAX_BYTES)));
    let notices: Vec<String> = [limit_notice, bytes_notice, extra_notice]
        .into_iter()
        .flatten()
        .collect();
    let mut text = t.content;
    if !notices.is_empty() {
        text.push_str(&format!("\n\n[{}]", notices.join(". ")));
    }
    text
}

/// Cuts one line to `max` characters, with Pi's `... [truncated]` marker.
pub fn truncate_line(line: &str, max: usize) -> (String, bool) {
    if line.chars().count() <= max {
        return (line.to_string(), false);
    }
    let cut: String = line.chars().take(max).collect();
    (format!("{cut}... [truncated]"), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_text_notices_in_order() {
        let lines = vec!["a".to_string(), "b".to_string()];
        assert_eq!(listing_text(&lines, None, None), "a\nb");
        assert_eq!(
            listing_text(
                &lines,
                Some("2 results limit reached".into()),
                Some("x".into())
            ),
            "a\nb\n\n[2 results limit reached. x]"
        );
        let big = vec!["y".repeat(MAX_BYTES); 2];
        assert_eq!(
            listing_text(&big, None, Some("z".into())),
            format!("{}\n\n[50.0KB limit reached. z]", "y".repeat(MAX_BYTES))
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(50 * 1024), "50.0KB");
        assert_eq!(format_size(3 * 1024 * 1024 / 2), "1.5MB");
    }

    #[test]
    fn head_by_lines_and_bytes() {
        let t = truncate_head("a\nb\nc\nd", 2, 100);
        assert_eq!(
            (t.content.as_str(), t.truncated_by),
            ("a\nb", Some(TruncatedBy::Lines))
        );
        assert_eq!(t.total_lines, 4);
        let t = truncate_head("aaaa\nbbbb\ncccc", 10, 9);
        assert_eq!(
            (t.content.as_str(), t.truncated_by),
            ("aaaa\nbbbb", Some(TruncatedBy::Bytes))
        );
        assert!(truncate_head(&"x".repeat(20), 10, 10).first_line_exceeds);
    }

    #[test]
    fn tail_keeps_the_end() {
        let t = truncate_tail("a\nb\nc\nd", 2, 100);
        assert_eq!(t.content, "c\nd");
        let t = truncate_tail(&format!("x\n{}", "é".repeat(10)), 10, 5);
        assert!(t.last_line_partial);
        assert_eq!(t.content, "éé");
    }
}
