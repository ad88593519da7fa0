//! Size, count and depth caps for archives (docs/afps.md#limits).

const MIB: u64 = 1024 * 1024;

/// Caps applied while reading an archive. Build with [`Limits::from_lookup`]
/// (defaults, raised — never lowered — by the `APPSTRATE_BUNDLE_MAX_*`
/// variables the caller looks up) and override fields explicitly when a
/// caller needs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Compressed archive size, bytes (default 50 MiB).
    pub max_compressed_bytes: u64,
    /// Total decompressed size, bytes (default 200 MiB).
    pub max_decompressed_bytes: u64,
    /// One decompressed file, bytes (default 20 MiB).
    pub max_file_bytes: u64,
    /// Number of entries (default 10 000).
    pub max_files: u64,
    /// Path segments (default 16).
    pub max_path_depth: usize,
    /// Identity string length, bytes (default 4 096).
    pub max_identity_bytes: usize,
    /// Packages in one bundle (default 512).
    pub max_packages: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_compressed_bytes: 50 * MIB,
            max_decompressed_bytes: 200 * MIB,
            max_file_bytes: 20 * MIB,
            max_files: 10_000,
            max_path_depth: 16,
            max_identity_bytes: 4_096,
            max_packages: 512,
        }
    }
}

impl Limits {
    /// Defaults raised by `APPSTRATE_BUNDLE_MAX_SIZE`,
    /// `APPSTRATE_BUNDLE_MAX_DECOMPRESSED`, `APPSTRATE_BUNDLE_MAX_FILES` and
    /// `APPSTRATE_BUNDLE_MAX_PACKAGES` as `lookup` finds them (this crate
    /// never reads the process environment). A value that is not a
    /// positive integer, or that is below the default, is ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let d = Limits::default();
        let raise = |name: &str, default: u64| -> u64 {
            match lookup(name).and_then(|raw| raw.trim().parse::<u64>().ok()) {
                Some(v) if v > 0 => v.max(default),
                _ => default,
            }
        };
        Limits {
            max_compressed_bytes: raise("APPSTRATE_BUNDLE_MAX_SIZE", d.max_compressed_bytes),
            max_decompressed_bytes: raise(
                "APPSTRATE_BUNDLE_MAX_DECOMPRESSED",
                d.max_decompressed_bytes,
            ),
            max_files: raise("APPSTRATE_BUNDLE_MAX_FILES", d.max_files),
            max_packages: raise("APPSTRATE_BUNDLE_MAX_PACKAGES", d.max_packages),
            ..d
        }
    }
}
