//! JSON text exactly as JavaScript writes it.
//!
//! The original CLI and platform are JavaScript: cache files, `--json`
//! output, RunEvents, bundle files and integrity digests are all
//! `JSON.stringify` text, and users, agents and hashes compare them byte for
//! byte. This crate is the one writer every other crate uses:
//!
//! - [`stringify`] / [`stringify_pretty`]: `JSON.stringify(v)` and
//!   `JSON.stringify(v, null, 2)`, keys in JS property order ([`object_entries`]);
//! - [`canonical`]: the platform's `canonicalJsonStringify` (keys sorted by
//!   UTF-16 code unit, no white space);
//! - [`number_to_string`] / [`f64_to_string`]: `Number.prototype.toString()`;
//! - [`write_string_literal`] / [`string_literal`]: a JSON string literal;
//! - [`to_js_string`] / [`join`]: `String(value)` and `Array.prototype.join`.

// Functions stay short enough to read at once (ARCHITECTURE.md, "Lints").
#![warn(clippy::too_many_lines)]

mod display;
mod number;
mod order;
mod string;
mod stringify;

pub use display::{join, to_js_string};
pub use number::{f64_to_string, number_to_string};
pub use order::{cmp_utf16, object_entries};
pub use string::{string_literal, write_string_literal};
pub use stringify::{canonical, stringify, stringify_pretty};
