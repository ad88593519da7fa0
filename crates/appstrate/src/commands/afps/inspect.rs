//! `appstrate afps inspect <file> [--json]`: identity, type, packages,
//! files, integrity and signature status.

use std::path::{Path, PathBuf};

use appstrate_afps::signing::{parse_signature_doc, read_bundle_signature};
use appstrate_afps::{Bundle, Package};
use appstrate_jsjson::stringify_pretty;
use clap::Args;
use serde_json::{Value, json};

use super::load;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .afps or .afps-bundle file (format detected by content)
    pub file: PathBuf,
    /// One JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

fn signature_summary(b: &Bundle) -> Value {
    match read_bundle_signature(b) {
        None => Value::Null,
        Some(Err(f)) => json!({"status": "malformed", "detail": f.to_string()}),
        Some(Ok(doc)) => match parse_signature_doc(&doc) {
            Ok(d) => json!({
                "alg": d.alg,
                "keyId": d.key_id,
                "chainLength": d.chain.as_ref().map_or(0, Vec::len),
                "status": "present (not verified; use `appstrate afps verify --trust-root`)"
            }),
            Err(f) => json!({"status": "malformed", "detail": f.to_string()}),
        },
    }
}

pub fn run(ctx: &mut Context, a: InspectArgs) -> Result<ExitStatus, CliError> {
    let b = load(ctx, &a.file)?;
    let mut packages: Vec<&Package> = b.packages.iter().collect();
    packages.sort_by(|x, y| appstrate_jsjson::cmp_utf16(&x.identity, &y.identity));
    let sizes = Sizes {
        compressed: std::fs::metadata(&a.file).map(|m| m.len()).unwrap_or(0),
        decompressed: b
            .packages
            .iter()
            .flat_map(|p| p.files.values())
            .map(Vec::len)
            .sum(),
    };
    let signature = signature_summary(&b);
    if a.json {
        let report = json_report(&a.file, &b, &packages, &sizes, signature);
        ctx.ui.line(&stringify_pretty(&report))?;
    } else {
        ctx.ui
            .out(&text_report(&a.file, &b, &packages, &sizes, &signature))?;
    }
    Ok(ExitStatus::SUCCESS)
}

/// The file's size, and the files' sizes once inflated.
struct Sizes {
    compressed: u64,
    decompressed: usize,
}

/// `--json`: one document, packages in UTF-16 identity order.
fn json_report(
    file: &Path,
    b: &Bundle,
    packages: &[&Package],
    sizes: &Sizes,
    signature: Value,
) -> Value {
    let root = b.root_package();
    json!({
        "file": file.display().to_string(),
        "kind": b.kind.as_str(),
        "bundleFormatVersion": b.format_version,
        "root": b.root,
        "type": root.package_type(),
        "integrity": b.integrity,
        "compressedSize": sizes.compressed,
        "decompressedSize": sizes.decompressed,
        "manifest": Value::Object(root.manifest.clone()),
        "promptBytes": root.file("prompt.md").map_or(0, <[u8]>::len),
        "packages": packages.iter().map(|p| json!({
            "identity": p.identity,
            "type": p.package_type(),
            "path": p.path,
            "integrity": p.integrity,
            "files": p.files.iter().map(|(f, d)| json!({"path": f, "size": d.len()})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "signature": signature,
        "metadata": b.metadata.clone().map(Value::Object),
    })
}

/// The text report: the root's identity, each package with its files, the
/// signature's status.
fn text_report(
    file: &Path,
    b: &Bundle,
    packages: &[&Package],
    sizes: &Sizes,
    signature: &Value,
) -> String {
    let root = b.root_package();
    let field = |k: &str| {
        root.manifest
            .get(k)
            .map_or_else(|| "<unknown>".to_string(), appstrate_jsjson::to_js_string)
    };
    let Sizes {
        compressed,
        decompressed,
    } = sizes;
    let mut out = String::new();
    out.push_str(&format!("Bundle: {}\n", file.display()));
    out.push_str(&format!(
        "  format:        {} (bundleFormatVersion {})\n",
        b.kind.as_str(),
        b.format_version
    ));
    out.push_str(&format!("  root:          {}\n", b.root));
    out.push_str(&format!("  name:          {}\n", field("name")));
    out.push_str(&format!("  version:       {}\n", field("version")));
    out.push_str(&format!("  type:          {}\n", field("type")));
    out.push_str(&format!("  schema_version: {}\n", field("schema_version")));
    out.push_str(&format!("  integrity:     {}\n", b.integrity));
    out.push_str(&format!(
        "  size:          {compressed}B zipped / {decompressed}B raw\n"
    ));
    out.push_str(&format!("  packages:      {}\n", b.packages.len()));
    for p in packages {
        out.push_str(&format!(
            "    - {} ({}, {} files, {})\n",
            p.identity,
            p.package_type().unwrap_or("unknown type"),
            p.files.len(),
            p.integrity
        ));
        for (f, d) in &p.files {
            out.push_str(&format!("        · {f} ({}B)\n", d.len()));
        }
    }
    out.push_str(&signature_line(signature));
    out
}

/// `  signature:     …` for none, a present (unverified) one, or a
/// malformed one.
fn signature_line(signature: &Value) -> String {
    match signature {
        Value::Null => "  signature:     <none>\n".to_string(),
        s if s.get("keyId").is_some() => {
            let chain = s["chainLength"].as_u64().unwrap_or(0);
            format!(
                "  signature:     ed25519 keyId={}{} (not verified; use `appstrate afps verify --trust-root`)\n",
                s["keyId"].as_str().unwrap_or(""),
                if chain > 0 {
                    format!(" chain={chain}")
                } else {
                    String::new()
                }
            )
        }
        s => format!(
            "  signature:     malformed ({})\n",
            s["detail"].as_str().unwrap_or("")
        ),
    }
}
