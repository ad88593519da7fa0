//! Stamps how this binary was installed (`self-update`'s channel):
//! `APPSTRATE_INSTALL_SOURCE` at build time (`curl` for release binaries),
//! else `cargo` when built by `cargo install` (its temporary target
//! directory is named `cargo-install…`), else `unknown`.

fn main() {
    println!("cargo:rerun-if-env-changed=APPSTRATE_INSTALL_SOURCE");
    let explicit = std::env::var("APPSTRATE_INSTALL_SOURCE").ok();
    let stamp = match explicit.as_deref() {
        Some(s @ ("curl" | "bun" | "cargo")) => s.to_string(),
        Some(_) => "unknown".to_string(),
        None => {
            let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
            if out_dir.contains("cargo-install") {
                "cargo".to_string()
            } else {
                "unknown".to_string()
            }
        }
    };
    println!("cargo:rustc-env=APPSTRATE_INSTALL_SOURCE_STAMP={stamp}");
}
