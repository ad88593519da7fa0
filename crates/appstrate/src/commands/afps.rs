//! `appstrate afps …`: build, inspect, verify, sign and render AFPS
//! packages with the same library `appstrate run` reads them with.
//!
//! Exit codes: 0 success; 1 invalid package or bundle (the stable error code
//! is printed: `ARCHIVE_INVALID: …`); 2 bad arguments or unreadable key,
//! trust-root or context files; 3 signature check failed.

use std::path::{Path, PathBuf};

use appstrate_afps::archive::{FileMap, check_entry_name};
use appstrate_afps::mustache::render_prompt;
use appstrate_afps::signing::{
    ChainEntry, KeyPair, Policy, PolicyOutcome, TrustRoot, TrustedKey, generate_key_pair,
    parse_signature_doc, read_bundle_signature, sign_bundle, verify_with_policy,
};
use appstrate_afps::writer::{write_afps, write_bundle};
use appstrate_afps::{
    ArchiveKind, Bundle, BundleError, ExecutionContext, Limits, package_from_files, platform_prompt,
};
use appstrate_jsjson::stringify_pretty;
use appstrate_platform::fsutil::{write_atomic, write_private_atomic};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

/// AFPS package tooling.
#[derive(Debug, Args)]
pub struct AfpsArgs {
    #[command(subcommand)]
    pub command: AfpsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AfpsCommand {
    /// Build a package from a source directory (manifest.json at its root)
    Bundle(BundleArgs),
    /// Print identity, type, packages, files, integrity and signature status
    Inspect(InspectArgs),
    /// Verify integrity and the signature policy; non-zero exit on any failure
    Verify(VerifyArgs),
    /// Sign a .afps or .afps-bundle with an Ed25519 key file
    Sign(SignArgs),
    /// Generate an Ed25519 key pair ({keyId, publicKey, privateKey}, mode 0600)
    Keygen(KeygenArgs),
    /// Render the package prompt (Mustache, as `afps render`) or the platform prompt
    Render(RenderArgs),
}

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

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .afps or .afps-bundle file (format detected by content)
    pub file: PathBuf,
    /// One JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A .afps or .afps-bundle file (format detected by content)
    pub file: PathBuf,
    /// Trust root {"keys":[{keyId, publicKey}]} (a key file is accepted too)
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,
    /// Signature policy (default: required with --trust-root, else warn)
    #[arg(long, value_parser = ["off", "warn", "required"])]
    pub policy: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// A .afps or .afps-bundle file
    pub file: PathBuf,
    /// Key file {keyId, publicKey, privateKey} as written by `keygen`
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// JSON array of chain entries {keyId, publicKey, signature, parentKeyId}
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Output file (default: rewrite the input in place)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the key pair here (mode 0600); without it, print it to stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Use this keyId instead of the one derived from the public key
    #[arg(long)]
    pub key_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A .afps or .afps-bundle file
    pub file: PathBuf,
    /// JSON context {runId?, input?, …}
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// JSON snapshot {memories?, history?, checkpoint?} merged onto the context
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Print the platform system prompt instead of the Mustache render
    #[arg(long)]
    pub platform: bool,
}

pub async fn run(ctx: &mut Context, args: AfpsArgs) -> Result<ExitStatus, CliError> {
    match args.command {
        AfpsCommand::Bundle(a) => bundle(ctx, a),
        AfpsCommand::Inspect(a) => inspect(ctx, a),
        AfpsCommand::Verify(a) => verify(ctx, a),
        AfpsCommand::Sign(a) => sign(ctx, a),
        AfpsCommand::Keygen(a) => keygen(ctx, a),
        AfpsCommand::Render(a) => render(ctx, a),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::usage(message).with_exit_code(2)
}

fn bundle_error(file: &Path, e: BundleError) -> CliError {
    CliError::user(format!("{}: {e}", file.display()))
}

fn load(file: &Path) -> Result<Bundle, CliError> {
    check_regular_file(file)?;
    appstrate_afps::read_bundle_file(file, &Limits::from_env()).map_err(|e| bundle_error(file, e))
}

/// Refuses, before reading a byte, what is not a regular file: a directory,
/// a device such as `/dev/zero` (endless), a FIFO (may block forever).
fn check_regular_file(file: &Path) -> Result<(), CliError> {
    let shown = file.display();
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.is_dir() => Err(usage(format!(
            "{shown}: is a directory; pass a .afps or .afps-bundle file"
        ))),
        Ok(_) => Err(usage(format!(
            "{shown}: is not a regular file (device, FIFO or socket); pass a .afps or .afps-bundle file"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(usage(format!("{shown}: no such file")))
        }
        Err(e) => Err(usage(format!("cannot read {shown}: {e}"))),
    }
}

fn read_json(path: &Path, what: &str) -> Result<Value, CliError> {
    check_regular_file(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| usage(format!("{what} {} is not valid JSON: {e}", path.display())))
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomic(path, bytes, 0o644)
        .map_err(|e| CliError::user(format!("cannot write {}: {e}", path.display())))
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

fn bundle(ctx: &mut Context, a: BundleArgs) -> Result<ExitStatus, CliError> {
    if !a.source_dir.is_dir() {
        return Err(usage(format!(
            "{}: not a directory",
            a.source_dir.display()
        )));
    }
    let limits = Limits::from_env();
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

fn inspect(ctx: &mut Context, a: InspectArgs) -> Result<ExitStatus, CliError> {
    let b = load(&a.file)?;
    let compressed = std::fs::metadata(&a.file).map(|m| m.len()).unwrap_or(0);
    let root = b.root_package();
    let mut packages: Vec<_> = b.packages.iter().collect();
    packages.sort_by(|x, y| appstrate_jsjson::cmp_utf16(&x.identity, &y.identity));
    let decompressed: usize = b
        .packages
        .iter()
        .flat_map(|p| p.files.values())
        .map(Vec::len)
        .sum();
    let signature = signature_summary(&b);
    if a.json {
        let report = json!({
            "file": a.file.display().to_string(),
            "kind": b.kind.as_str(),
            "bundleFormatVersion": b.format_version,
            "root": b.root,
            "type": root.package_type(),
            "integrity": b.integrity,
            "compressedSize": compressed,
            "decompressedSize": decompressed,
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
        });
        ctx.ui.line(&stringify_pretty(&report))?;
        return Ok(ExitStatus::SUCCESS);
    }
    let field = |k: &str| {
        root.manifest
            .get(k)
            .map_or_else(|| "<unknown>".to_string(), appstrate_jsjson::to_js_string)
    };
    let mut out = String::new();
    out.push_str(&format!("Bundle: {}\n", a.file.display()));
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
    for p in &packages {
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
    match &signature {
        Value::Null => out.push_str("  signature:     <none>\n"),
        s if s.get("keyId").is_some() => {
            let chain = s["chainLength"].as_u64().unwrap_or(0);
            out.push_str(&format!(
                "  signature:     ed25519 keyId={}{} (not verified; use `appstrate afps verify --trust-root`)\n",
                s["keyId"].as_str().unwrap_or(""),
                if chain > 0 { format!(" chain={chain}") } else { String::new() }
            ));
        }
        s => out.push_str(&format!(
            "  signature:     malformed ({})\n",
            s["detail"].as_str().unwrap_or("")
        )),
    }
    ctx.ui.out(&out)?;
    Ok(ExitStatus::SUCCESS)
}

/// A trust-root file, or a key file (its public half becomes the only trusted key).
fn load_trust_root(path: &Path) -> Result<TrustRoot, CliError> {
    let v = read_json(path, "trust root")?;
    if v.get("keys").is_some() {
        return serde_json::from_value(v).map_err(|e| {
            usage(format!(
                "trust root {} must be {{\"keys\":[{{\"keyId\",\"publicKey\"}}]}}: {e}",
                path.display()
            ))
        });
    }
    match (
        v.get("keyId").and_then(Value::as_str),
        v.get("publicKey").and_then(Value::as_str),
    ) {
        (Some(id), Some(pk)) => Ok(TrustRoot {
            keys: vec![TrustedKey {
                key_id: id.into(),
                public_key: pk.into(),
                comment: None,
            }],
        }),
        _ => Err(usage(format!(
            "trust root {} must be {{\"keys\":[{{\"keyId\",\"publicKey\"}}]}} or a key file",
            path.display()
        ))),
    }
}

fn verify(ctx: &mut Context, a: VerifyArgs) -> Result<ExitStatus, CliError> {
    let trust = a.trust_root.as_deref().map(load_trust_root).transpose()?;
    let policy = match a.policy.as_deref() {
        Some(p) => Policy::parse(p).ok_or_else(|| usage(format!("unknown --policy {p}")))?,
        None if trust.is_some() => Policy::Required,
        None => Policy::Warn,
    };
    if policy == Policy::Required && trust.is_none() {
        return Err(usage("--policy required needs --trust-root <file>"));
    }
    let b = load(&a.file)?;
    let files: usize = b.packages.iter().map(|p| p.files.len()).sum();
    ctx.ui.line(&format!(
        "✓ bundle valid ({} package{}, {files} files, integrity {})",
        b.packages.len(),
        if b.packages.len() == 1 { "" } else { "s" },
        b.integrity
    ))?;
    if policy == Policy::Off {
        ctx.ui.line("• signature not checked (--policy off)")?;
        return Ok(ExitStatus::SUCCESS);
    }
    if trust.is_none() {
        // warn without a trust root: report what is there, check nothing.
        match read_bundle_signature(&b) {
            None => ctx.ui.line("• unsigned (no signature.sig)")?,
            Some(Ok(doc)) if doc.get("keyId").is_some() => ctx.ui.line(&format!(
                "• signature present (keyId: {}) — not checked (no --trust-root)",
                appstrate_jsjson::to_js_string(&doc["keyId"])
            ))?,
            Some(_) => ctx.ui.warn("warn: signature.sig is malformed"),
        }
        return Ok(ExitStatus::SUCCESS);
    }
    match verify_with_policy(&b, policy, trust.as_ref()) {
        Ok(PolicyOutcome::Verified(key_id)) => ctx
            .ui
            .line(&format!("✓ signature valid (keyId: {key_id})"))?,
        Ok(PolicyOutcome::UnsignedWarned) => {
            ctx.ui.warn("warn: unsigned — bundle has no signature.sig")
        }
        Ok(PolicyOutcome::Warned(f)) => ctx
            .ui
            .warn(&format!("warn: signature verification failed: {f}")),
        Ok(PolicyOutcome::Off) => {}
        Err(e) => {
            let detail = e.detail.map(|d| format!(" — {d}")).unwrap_or_default();
            ctx.ui.warn(&format!("✗ {}: {}{detail}", e.code, e.message));
            return Ok(ExitStatus::from_code(3));
        }
    }
    Ok(ExitStatus::SUCCESS)
}

fn read_key_file(path: &Path) -> Result<KeyPair, CliError> {
    check_regular_file(path)?;
    // Never echo the file: it holds a private key.
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read key file {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| usage(format!("key file {} is not valid JSON", path.display())))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match (s("keyId"), s("privateKey")) {
        (Some(key_id), Some(private_key)) => Ok(KeyPair {
            key_id,
            public_key: s("publicKey").unwrap_or_default(),
            private_key,
        }),
        _ => Err(usage(format!(
            "key file {} must contain {{keyId, privateKey}}",
            path.display()
        ))),
    }
}

fn sign(ctx: &mut Context, a: SignArgs) -> Result<ExitStatus, CliError> {
    let key = read_key_file(&a.key)?;
    let chain: Option<Vec<ChainEntry>> = match &a.chain {
        None => None,
        Some(p) => Some(
            serde_json::from_value(read_json(p, "chain file")?).map_err(|e| {
                usage(format!(
                    "chain file {} must be an array of chain entries: {e}",
                    p.display()
                ))
            })?,
        ),
    };
    let b = load(&a.file)?;
    let signed = sign_bundle(&b, &key, chain).map_err(|e| bundle_error(&a.file, e))?;
    let bytes = match b.kind {
        ArchiveKind::Afps => write_afps(&signed),
        ArchiveKind::AfpsBundle => write_bundle(&signed),
    }
    .map_err(|e| bundle_error(&a.file, e))?;
    let out = a.output.unwrap_or_else(|| a.file.clone());
    write_output(&out, &bytes)?;
    ctx.ui.line(&format!(
        "signed {} → {} (keyId: {})",
        a.file.display(),
        out.display(),
        key.key_id
    ))?;
    Ok(ExitStatus::SUCCESS)
}

fn keygen(ctx: &mut Context, a: KeygenArgs) -> Result<ExitStatus, CliError> {
    let mut kp = generate_key_pair().map_err(|e| CliError::user(e.message))?;
    if let Some(id) = a.key_id {
        kp.key_id = id;
    }
    let mut doc = Map::new();
    doc.insert("keyId".into(), Value::String(kp.key_id.clone()));
    doc.insert("publicKey".into(), Value::String(kp.public_key.clone()));
    doc.insert("privateKey".into(), Value::String(kp.private_key.clone()));
    let text = format!("{}\n", stringify_pretty(&Value::Object(doc)));
    match a.output {
        Some(path) => {
            if let Some(dir) = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                appstrate_platform::fsutil::create_private_dir(dir)
                    .map_err(|e| CliError::user(format!("cannot create {}: {e}", dir.display())))?;
            }
            write_private_atomic(&path, text.as_bytes())
                .map_err(|e| CliError::user(format!("cannot write {}: {e}", path.display())))?;
            ctx.ui.line(&format!(
                "wrote Ed25519 key pair to {} (keyId: {}, publicKey: {})",
                path.display(),
                kp.key_id,
                kp.public_key
            ))?;
        }
        None => ctx.ui.out(&text)?,
    }
    Ok(ExitStatus::SUCCESS)
}

fn render(ctx: &mut Context, a: RenderArgs) -> Result<ExitStatus, CliError> {
    let b = load(&a.file)?;
    let mut context = ExecutionContext {
        run_id: "cli-dry-run".into(),
        ..Default::default()
    };
    if let Some(p) = &a.context {
        let v = read_json(p, "context file")?;
        if !v.is_object() {
            return Err(usage(format!(
                "context file {} must be a JSON object",
                p.display()
            )));
        }
        context = serde_json::from_value(v).map_err(|e| {
            usage(format!(
                "context file {} has the wrong shape: {e}",
                p.display()
            ))
        })?;
        if context.run_id.is_empty() {
            context.run_id = "cli-dry-run".into();
        }
    }
    if let Some(p) = &a.snapshot {
        let v = read_json(p, "snapshot file")?;
        let Some(obj) = v.as_object() else {
            return Err(usage(format!(
                "snapshot file {} must be a JSON object",
                p.display()
            )));
        };
        for key in ["memories", "history"] {
            if obj.get(key).is_some_and(|m| !m.is_array()) {
                return Err(usage(format!(
                    "snapshot file {}: {key} must be an array when present",
                    p.display()
                )));
            }
        }
        context.apply_snapshot(obj);
    }
    let text = if a.platform {
        platform_prompt(&b, &context, "Appstrate CLI")
    } else {
        let template = b.root_package().text("prompt.md").unwrap_or_default();
        render_prompt(&template, &context).map_err(|e| {
            CliError::user(format!(
                "{}: prompt.md is not a valid Mustache template: {e}",
                a.file.display()
            ))
        })?
    };
    ctx.ui.out(&text)?;
    if !text.ends_with('\n') {
        ctx.ui.out("\n")?;
    }
    Ok(ExitStatus::SUCCESS)
}
