#![allow(dead_code)]

use std::path::PathBuf;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn vectors() -> serde_json::Value {
    json("vectors/vectors.json")
}

pub fn s<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("vector {path:?} is not a string"))
}

/// One entry of a hand-built test archive.
pub struct RawEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// 0 = STORE, 8 = DEFLATE (then `data` is already compressed).
    pub method: u16,
    pub crc: u32,
    pub uncompressed: u32,
    pub unix_mode: Option<u32>,
}

impl RawEntry {
    pub fn stored(name: &str, data: &[u8]) -> Self {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            crc: crc32(data),
            uncompressed: data.len() as u32,
            unix_mode: None,
        }
    }

    pub fn deflated(name: &str, plain: &[u8]) -> Self {
        use std::io::Write;
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(plain).expect("deflate");
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: enc.finish().expect("deflate"),
            method: 8,
            crc: crc32(plain),
            uncompressed: plain.len() as u32,
            unix_mode: None,
        }
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    h.finalize()
}

/// Build a ZIP from raw entries, however hostile.
pub fn build_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let head = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                let made_by: u16 = if e.unix_mode.is_some() {
                    (3 << 8) | 20
                } else {
                    20
                };
                h.extend_from_slice(&made_by.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&e.method.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h.extend_from_slice(&e.crc.to_le_bytes());
            h.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            h.extend_from_slice(&e.uncompressed.to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h
        };
        out.extend(head(0x0403_4b50, false));
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
        central.extend(head(0x0201_4b50, true));
        central.extend_from_slice(&[0u8; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(e.unix_mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    let n = entries.len().min(0xFFFF) as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

pub const MANIFEST: &str = r#"{"name":"@t/agent","version":"1.0.0","type":"agent"}"#;

/// A minimal valid agent plus extra entries.
pub fn agent_zip(extra: Vec<RawEntry>) -> Vec<u8> {
    let mut e = vec![
        RawEntry::stored("manifest.json", MANIFEST.as_bytes()),
        RawEntry::stored("prompt.md", b"Hello"),
    ];
    e.extend(extra);
    build_zip(&e)
}
