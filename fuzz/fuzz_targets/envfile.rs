//! The self-hosting `.env`: tolerant parser, renderer, upgrade merge.
//!
//! Input: an existing `.env` text, optionally followed by `\0` and a second
//! text whose parsed keys play the freshly generated values. Invariants:
//! render then parse gives back the map (the renderer quotes what would
//! change meaning); the upgrade merge, written into the existing text,
//! parses back to exactly the merged map.
#![no_main]

use appstrate_selfhost::envfile::{merge_env, merge_into_text, parse_env_file, render_env_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (existing_text, fresh_text) = text.split_once('\0').unwrap_or((&text, ""));
    let existing = parse_env_file(existing_text);
    let fresh = parse_env_file(fresh_text);

    let rendered = render_env_file(&existing);
    assert_eq!(
        parse_env_file(&rendered),
        existing,
        "render → parse changed the values"
    );

    let merged = merge_env(&existing, &fresh);
    for (key, value) in &existing {
        if key != "APPSTRATE_VERSION" || !fresh.contains_key(key) {
            assert_eq!(merged.get(key), Some(value), "an existing value was lost");
        }
    }
    let written = merge_into_text(existing_text, &merged);
    assert_eq!(
        parse_env_file(&written),
        merged,
        "merged text does not read back"
    );
});
