//! The OpenAPI index behind `appstrate openapi`: parse a schema, flatten its
//! operations in a stable order, filter them, find one, render them as text
//! or JSON, and inline internal `$ref`s with explicit cycle markers.
//!
//! Pure: no I/O, no clock, no environment. The binary fetches and caches the
//! document and decides about colour; everything here is a function of its
//! inputs, so it is tested and benchmarked alone.

// Functions stay short enough to read at once (ARCHITECTURE.md, "Lints").
#![warn(clippy::too_many_lines)]

pub mod collation;
pub mod deref;
pub mod document;
pub mod filter;
pub mod format;
pub mod index;
pub mod js;
pub mod operation;

pub use deref::{dereference, dereference_document, dereference_operation};
pub use document::{DocumentError, parse_document};
pub use filter::{Filters, matches_glob};
pub use format::{format_list, format_show, list_json, show_json};
pub use index::parse_operations_index;
pub use operation::{Method, Operation, collect_operations, find_operation};
