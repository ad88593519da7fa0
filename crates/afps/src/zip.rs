//! A small ZIP reader and writer, written for hostile input.
//!
//! Reading never trusts declared sizes: entry data is taken from the
//! in-memory archive, inflation is capped with `Read::take(cap + 1)`, and
//! every structure is bounds-checked before use. Only STORE and DEFLATE are
//! supported (the only methods AFPS producers emit).

use std::io::Read;

use crate::error::{BundleError, ErrorCode, err};

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_EOCD64: u32 = 0x0606_4b50;
const SIG_EOCD64_LOCATOR: u32 = 0x0706_4b50;

/// One central-directory entry, validated structurally but not yet inflated.
#[derive(Debug, Clone)]
pub(crate) struct CdEntry {
    pub name: String,
    pub is_symlink: bool,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    local_offset: u64,
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, BundleError> {
    err(ErrorCode::ArchiveInvalid, msg)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

fn truncated<T>() -> Result<T, BundleError> {
    invalid("corrupt ZIP archive (truncated structure)")
}

/// Locate the end-of-central-directory record and return
/// `(entry_count, cd_offset, cd_size)`, following ZIP64 when flagged.
fn find_central_directory(bytes: &[u8]) -> Result<(u64, u64, u64), BundleError> {
    if bytes.len() < 22 {
        return invalid("corrupt ZIP archive (no end of central directory)");
    }
    let lowest = bytes.len().saturating_sub(22 + 0xFFFF);
    let mut pos = bytes.len() - 22;
    let eocd = loop {
        if u32_at(bytes, pos) == Some(SIG_EOCD) {
            break pos;
        }
        if pos == lowest {
            return invalid("corrupt ZIP archive (no end of central directory)");
        }
        pos -= 1;
    };
    let disk = u16_at(bytes, eocd + 4).map_or_else(truncated, Ok)?;
    let cd_disk = u16_at(bytes, eocd + 6).map_or_else(truncated, Ok)?;
    if disk != 0 || cd_disk != 0 {
        return invalid("multi-disk ZIP archives are not supported");
    }
    let mut count = u64::from(u16_at(bytes, eocd + 10).map_or_else(truncated, Ok)?);
    let mut size = u64::from(u32_at(bytes, eocd + 12).map_or_else(truncated, Ok)?);
    let mut offset = u64::from(u32_at(bytes, eocd + 16).map_or_else(truncated, Ok)?);
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        // ZIP64: the locator sits just before the classic record.
        let loc = eocd.checked_sub(20).map_or_else(truncated, Ok)?;
        if u32_at(bytes, loc) == Some(SIG_EOCD64_LOCATOR) {
            let rec = u64_at(bytes, loc + 8).map_or_else(truncated, Ok)?;
            let rec = usize::try_from(rec).or_else(|_| truncated())?;
            if u32_at(bytes, rec) != Some(SIG_EOCD64) {
                return invalid("corrupt ZIP archive (bad ZIP64 end record)");
            }
            count = u64_at(bytes, rec + 32).map_or_else(truncated, Ok)?;
            size = u64_at(bytes, rec + 40).map_or_else(truncated, Ok)?;
            offset = u64_at(bytes, rec + 48).map_or_else(truncated, Ok)?;
        }
    }
    let end = offset.checked_add(size).map_or_else(truncated, Ok)?;
    if end > eocd as u64 {
        return invalid("corrupt ZIP archive (central directory out of bounds)");
    }
    Ok((count, offset, size))
}

/// Parse the ZIP64 extended-information extra field for the values that
/// were saturated in the fixed header.
fn apply_zip64_extra(
    extra: &[u8],
    uncompressed: &mut u64,
    compressed: &mut u64,
    offset: &mut u64,
) -> Result<(), BundleError> {
    let mut at = 0usize;
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at).map_or_else(truncated, Ok)?;
        let len = usize::from(u16_at(extra, at + 2).map_or_else(truncated, Ok)?);
        let body = extra.get(at + 4..at + 4 + len).map_or_else(truncated, Ok)?;
        if id == 0x0001 {
            let mut p = 0usize;
            for field in [uncompressed, compressed, offset] {
                if *field == 0xFFFF_FFFF {
                    *field = u64_at(body, p).map_or_else(truncated, Ok)?;
                    p += 8;
                }
            }
            return Ok(());
        }
        at += 4 + len;
    }
    Ok(())
}

/// Read the central directory. Refuses with `LIMITS_EXCEEDED` as soon as more
/// than `max_entries` non-directory entries are seen, so a 1M-entry archive
/// costs no more than `max_entries` parsed headers.
pub(crate) fn read_index(bytes: &[u8], max_entries: u64) -> Result<Vec<CdEntry>, BundleError> {
    if bytes.len() < 4 || &bytes[..2] != b"PK" {
        return invalid("not a ZIP archive");
    }
    let (count, cd_offset, cd_size) = find_central_directory(bytes)?;
    let cd_start = usize::try_from(cd_offset).or_else(|_| truncated())?;
    let cd_end = cd_start + usize::try_from(cd_size).or_else(|_| truncated())?;
    let cd = &bytes[cd_start..cd_end];
    let mut entries = Vec::new();
    let mut files = 0u64;
    let mut at = 0usize;
    while at < cd.len() {
        if u32_at(cd, at) != Some(SIG_CENTRAL) {
            return invalid("corrupt ZIP archive (bad central directory entry)");
        }
        let made_by = u16_at(cd, at + 4).map_or_else(truncated, Ok)?;
        let flags = u16_at(cd, at + 8).map_or_else(truncated, Ok)?;
        let method = u16_at(cd, at + 10).map_or_else(truncated, Ok)?;
        let crc32 = u32_at(cd, at + 16).map_or_else(truncated, Ok)?;
        let mut compressed = u64::from(u32_at(cd, at + 20).map_or_else(truncated, Ok)?);
        let mut uncompressed = u64::from(u32_at(cd, at + 24).map_or_else(truncated, Ok)?);
        let name_len = usize::from(u16_at(cd, at + 28).map_or_else(truncated, Ok)?);
        let extra_len = usize::from(u16_at(cd, at + 30).map_or_else(truncated, Ok)?);
        let comment_len = usize::from(u16_at(cd, at + 32).map_or_else(truncated, Ok)?);
        let external = u32_at(cd, at + 38).map_or_else(truncated, Ok)?;
        let mut local = u64::from(u32_at(cd, at + 42).map_or_else(truncated, Ok)?);
        let name_at = at + 46;
        let name_bytes = cd
            .get(name_at..name_at + name_len)
            .map_or_else(truncated, Ok)?;
        let extra = cd
            .get(name_at + name_len..name_at + name_len + extra_len)
            .map_or_else(truncated, Ok)?;
        apply_zip64_extra(extra, &mut uncompressed, &mut compressed, &mut local)?;
        at = name_at + name_len + extra_len + comment_len;
        if at > cd.len() {
            return truncated();
        }
        let Ok(name) = String::from_utf8(name_bytes.to_vec()) else {
            return invalid("entry name is not valid UTF-8");
        };
        if flags & 1 != 0 {
            return invalid(format!("encrypted entry not supported: {name}"));
        }
        let is_dir = name.ends_with('/');
        // Unix hosts keep the file mode in the high half of the external attributes.
        let is_symlink = made_by >> 8 == 3 && (external >> 16) & 0o170000 == 0o120000;
        if !is_dir {
            files += 1;
            if files > max_entries {
                return err(
                    ErrorCode::LimitsExceeded,
                    format!(
                        "archive has more than {max_entries} files — exceeds limit {max_entries}"
                    ),
                );
            }
        }
        entries.push(CdEntry {
            name,
            is_symlink,
            method,
            crc32,
            compressed_size: compressed,
            uncompressed_size: uncompressed,
            local_offset: local,
        });
    }
    if entries.len() as u64 != count {
        return invalid("corrupt ZIP archive (entry count disagrees with central directory)");
    }
    Ok(entries)
}

/// Why inflation stopped early.
#[derive(Debug)]
pub(crate) enum InflateError {
    /// More than `cap` bytes came out.
    OverCap,
    /// Structure or data is corrupt.
    Invalid(BundleError),
}

/// Inflate one entry, producing at most `cap` bytes.
pub(crate) fn inflate(bytes: &[u8], entry: &CdEntry, cap: u64) -> Result<Vec<u8>, InflateError> {
    let bad = |m: String| InflateError::Invalid(BundleError::new(ErrorCode::ArchiveInvalid, m));
    let off = usize::try_from(entry.local_offset).map_err(|_| bad("corrupt ZIP archive".into()))?;
    if u32_at(bytes, off) != Some(SIG_LOCAL) {
        return Err(bad(format!(
            "corrupt ZIP archive (bad local header for {})",
            entry.name
        )));
    }
    let (Some(n), Some(e)) = (u16_at(bytes, off + 26), u16_at(bytes, off + 28)) else {
        return Err(bad("corrupt ZIP archive (truncated local header)".into()));
    };
    let name_at = off + 30;
    let data_at = name_at + usize::from(n) + usize::from(e);
    if bytes.get(name_at..name_at + usize::from(n)) != Some(entry.name.as_bytes()) {
        return Err(bad(format!(
            "corrupt ZIP archive (local header name disagrees with central directory for {})",
            entry.name
        )));
    }
    let len =
        usize::try_from(entry.compressed_size).map_err(|_| bad("corrupt ZIP archive".into()))?;
    let Some(data) = data_at
        .checked_add(len)
        .and_then(|end| bytes.get(data_at..end))
    else {
        return Err(bad(format!(
            "corrupt ZIP archive (data of {} out of bounds)",
            entry.name
        )));
    };
    let out = match entry.method {
        0 => {
            if data.len() as u64 > cap {
                return Err(InflateError::OverCap);
            }
            data.to_vec()
        }
        8 => {
            let mut out = Vec::new();
            let mut decoder = flate2::read::DeflateDecoder::new(data).take(cap + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|e| bad(format!("corrupt deflate data in {}: {e}", entry.name)))?;
            if out.len() as u64 > cap {
                return Err(InflateError::OverCap);
            }
            out
        }
        m => {
            return Err(bad(format!(
                "unsupported compression method {m} for {}",
                entry.name
            )));
        }
    };
    if out.len() as u64 != entry.uncompressed_size || crc32fast::hash(&out) != entry.crc32 {
        return Err(bad(format!(
            "corrupt ZIP archive (size or CRC mismatch for {})",
            entry.name
        )));
    }
    Ok(out)
}

/// Write a ZIP of STORE entries, in the given order, every entry stamped
/// 1980-01-02 12:00 (DOS time, UTC), so equal input gives equal bytes.
pub fn write_stored(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    const DOS_TIME: u16 = 12 << 11;
    const DOS_DATE: u16 = (1 << 5) | 2;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(data);
        let size = data.len() as u32;
        let flags: u16 = if name.is_ascii() { 0 } else { 1 << 11 };
        let name_len = name.len() as u16;
        out.extend_from_slice(&SIG_LOCAL.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&DOS_TIME.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&DOS_TIME.to_le_bytes());
        central.extend_from_slice(&DOS_DATE.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0u8; 12]); // extra, comment, disk, internal, external
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&SIG_EOCD.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    let count = entries.len() as u16;
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
