//! `appstrate afps bundle <dir> -o <file>`: a source directory (manifest.json
//! at its root) written as a `.afps` or `.afps-bundle`.

use std::path::{Path, PathBuf};

use appstrate_afps::archive::{FileMap, check_entry_name};
use appstrate_afps::writer::{write_afps, write_bundle};
use appstrate_afps::{Bundle, Limits, package_from_files};
use clap::{Args, ValueEnum};

use super::{bundle_error, usage, write_output};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Single-package .afps (files at the archive root)
    Afps,
    /// Multi-package .afps-bundle (bundle.json + RECORD per package)
    Bundle,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Directory holding manifest.json and the package files
    pub source_dir: PathBuf,
    /// Output file
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Archive format (default: `afps` when the output name ends in .afps, else `bundle`)
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    limits: &Limits,
    files: &mut FileMap,
) -> Result<(), CliError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name();
        if name == ".git" || name == ".DS_Store" {
            continue;
        }
        let ty = entry
            .file_type()
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        if ty.is_symlink() {
            return Err(CliError::user(format!(
                "{}: symbolic links are not allowed in a package; copy the file instead",
                path.display()
            )));
        }
        if ty.is_dir() {
            collect_dir(root, &path, limits, files)?;
            continue;
        }
        if !ty.is_file() {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let Some(rel) = rel
            .to_str()
            .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            return Err(CliError::user(format!(
                "{}: file name is not valid UTF-8",
                path.display()
            )));
        };
        if rel == "RECORD" {
            continue; // computed, never copied
        }
        check_entry_name(&rel, limits, "source").map_err(|e| bundle_error(root, e))?;
        let data = std::fs::read(&path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        if data.len() as u64 > limits.max_file_bytes {
            return Err(CliError::user(format!(
                "{}: {rel} ({} bytes) exceeds the per-file limit {}",
                root.display(),
                data.len(),
                limits.max_file_bytes
            )));
        }
        files.insert(rel, data);
        if files.len() as u64 > limits.max_files {
            return Err(CliError::user(format!(
                "{}: more than {} files",
                root.display(),
                limits.max_files
            )));
        }
    }
    Ok(())
}

pub fn run(ctx: &mut Context, a: BundleArgs) -> Result<ExitStatus, CliError> {
    if !a.source_dir.is_dir() {
        return Err(usage(format!(
            "{}: not a directory",
            a.source_dir.display()
        )));
    }
    let limits = ctx.bundle_limits();
    let mut files = FileMap::new();
    collect_dir(&a.source_dir, &a.source_dir, &limits, &mut files)?;
    let package = package_from_files(files).map_err(|e| bundle_error(&a.source_dir, e))?;
    let format = a.format.unwrap_or_else(|| {
        let name = a.output.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".afps") {
            OutputFormat::Afps
        } else {
            OutputFormat::Bundle
        }
    });
    let identity = package.identity.clone();
    let file_count = package.files.len();
    let b = Bundle::of_one(package);
    let bytes = match format {
        OutputFormat::Afps => write_afps(&b),
        OutputFormat::Bundle => write_bundle(&b),
    }
    .map_err(|e| bundle_error(&a.source_dir, e))?;
    write_output(&a.output, &bytes)?;
    ctx.ui.line(&format!(
        "wrote {} ({identity}, {file_count} files, {} bytes, integrity {})",
        a.output.display(),
        bytes.len(),
        b.integrity
    ))?;
    Ok(ExitStatus::SUCCESS)
}
