//! A decompression bomb is refused with bounded memory. Kept alone in its
//! own test binary so the process's peak RSS reflects only this test.

mod common;

use appstrate_afps::{ErrorCode, Limits, read_bundle};
use common::{RawEntry, agent_zip};

/// A deflate stream of `total` zero bytes, built by repeating one fully
/// flushed (byte-aligned, dictionary-reset) 1 MiB segment.
fn zeros_deflate(total: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let chunk = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut seg = Vec::with_capacity(64 * 1024);
    c.compress_vec(&chunk, &mut seg, FlushCompress::Full)
        .expect("deflate");
    assert_eq!(c.total_in() as usize, chunk.len());
    let mut out = Vec::with_capacity(seg.len() * (total / chunk.len()) + 16);
    for _ in 0..total / chunk.len() {
        out.extend_from_slice(&seg);
    }
    out.extend_from_slice(&[0x03, 0x00]); // final empty fixed-Huffman block
    out
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn one_gigabyte_of_zeros_is_refused_without_inflating_it() {
    const GIB: usize = 1 << 30;
    let data = zeros_deflate(GIB);
    let mut crc = crc32fast::Hasher::new();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..GIB / chunk.len() {
        crc.update(&chunk);
    }
    assert!(data.len() < 2 * 1024 * 1024, "bomb is {} bytes", data.len());
    let bomb = RawEntry {
        name: b"bomb.bin".to_vec(),
        data,
        method: 8,
        crc: crc.finalize(),
        uncompressed: GIB as u32,
        unix_mode: None,
    };
    let archive = agent_zip(vec![bomb]);
    let before = peak_rss_kib();
    let e = read_bundle(&archive, &Limits::default()).expect_err("bomb");
    assert_eq!(e.code, ErrorCode::LimitsExceeded, "{}", e.message);
    assert!(e.message.contains("per-file limit"), "{}", e.message);
    // Lying about the size (declaring 10 bytes) changes nothing: the cap is
    // enforced on what comes out of the inflater.
    let mut liar = RawEntry {
        name: b"bomb.bin".to_vec(),
        data: zeros_deflate(64 << 20),
        method: 8,
        crc: 0,
        uncompressed: 10,
        unix_mode: None,
    };
    liar.crc = 0;
    let e = read_bundle(&agent_zip(vec![liar]), &Limits::default()).expect_err("liar");
    assert_eq!(e.code, ErrorCode::LimitsExceeded, "{}", e.message);
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        // At most one per-file cap (20 MiB) plus slack, never the gigabyte.
        assert!(
            a.saturating_sub(b) < 100 * 1024,
            "peak grew by {} KiB",
            a - b
        );
    }
}
