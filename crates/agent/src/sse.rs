//! A small Server-Sent Events decoder (the WHATWG event-stream format):
//! bytes in, complete events out. Written by hand so the model clients see
//! every event, status code and cut-off stream themselves.

/// One dispatched event: its `event:` name (empty when absent) and its data
/// lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Incremental decoder. Feed it chunks as they arrive; it keeps the
/// incomplete tail (also a UTF-8 sequence split across chunks) for the next.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes every complete line in `chunk` and returns the events they finish.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.pending.len() {
            let b = self.pending[i];
            if b == b'\n' || b == b'\r' {
                // A lone `\r` at the end of the buffer may be the first half of `\r\n`.
                if b == b'\r' && i + 1 == self.pending.len() {
                    break;
                }
                let line = String::from_utf8_lossy(&self.pending[start..i]).into_owned();
                if b == b'\r' && self.pending.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                i += 1;
                start = i;
                if let Some(ev) = self.line(&line) {
                    out.push(ev);
                }
                continue;
            }
            i += 1;
        }
        self.pending.drain(..start);
        out
    }

    /// Bytes held for the event being assembled (its unfinished line and its
    /// data so far), for a cap on what one event may weigh.
    pub fn buffered_len(&self) -> usize {
        self.pending.len() + self.data.len() + self.event.len()
    }

    /// True when bytes of an unfinished line or event are buffered: the stream
    /// ended in the middle of something.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || self.has_data
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if !self.has_data {
                self.event.clear();
                return None;
            }
            let ev = SseEvent {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
            };
            self.has_data = false;
            return Some(ev);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.find(':') {
            Some(pos) => {
                let v = &line[pos + 1..];
                (&line[..pos], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut d = SseDecoder::new();
        let mut all = d.feed(b"event: a\r\ndata: {\"x\"");
        assert!(all.is_empty());
        all.extend(d.feed(b":1}\r"));
        all.extend(d.feed(b"\n\r\n: comment\ndata: one\ndata:two\n\n"));
        assert_eq!(
            all,
            vec![
                SseEvent {
                    event: "a".into(),
                    data: "{\"x\":1}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "one\ntwo".into()
                },
            ]
        );
        assert!(!d.has_partial());
        d.feed(b"data: cut");
        assert!(d.has_partial());
    }

    #[test]
    fn multibyte_split_is_kept_whole() {
        let mut d = SseDecoder::new();
        let bytes = "data: é\n\n".as_bytes();
        let mut out = d.feed(&bytes[..7]);
        out.extend(d.feed(&bytes[7..]));
        assert_eq!(out[0].data, "é");
    }
}
