//! The SSE decoder of the model clients.
//!
//! Input: 1 byte seed for the chunking, then the stream. Invariant: the
//! events (and whether a partial event is left) do not depend on how the
//! stream is cut into chunks: whole, byte by byte, and pseudo-random cuts
//! all agree.
#![no_main]

use appstrate_agent::sse::{SseDecoder, SseEvent};
use libfuzzer_sys::fuzz_target;

fn decode<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<SseEvent>, bool) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(decoder.feed(chunk));
    }
    (events, decoder.has_partial())
}

/// Cuts `stream` at lengths drawn from a tiny LCG seeded by `seed`.
fn random_cuts(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (((state >> 16) % 7) as usize).min(rest.len());
        let (head, tail) = rest.split_at(len);
        out.push(head);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = decode(std::iter::once(stream));
    let bytewise = decode(stream.chunks(1));
    assert_eq!(whole, bytewise, "byte-by-byte feeding changed the events");
    let cut = decode(random_cuts(stream, seed).into_iter());
    assert_eq!(whole, cut, "chunk boundaries changed the events");
    for event in &whole.0 {
        assert!(
            !event.event.contains(['\r', '\n']),
            "event name spans lines"
        );
    }
});
