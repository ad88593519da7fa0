//! File helpers shared with the rest of the tool (atomic writes with an
//! explicit mode, private directories, modes): one implementation, in
//! `appstrate-platform`.

pub use appstrate_platform::fsutil::{ensure_private_dir, mode_of_path, set_mode, write_atomic};
