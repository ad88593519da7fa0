#!/bin/sh
# Installs the appstrate command-line tool from this project's GitHub
# releases, then runs `appstrate install` (README "Install"):
#
#   curl -fsSL https://github.com/appstrate/appstrate-rs/releases/latest/download/get.sh | sh
#   curl -fsSL https://github.com/appstrate/appstrate-rs/releases/latest/download/verify.sh | sh
#   curl -fsSL …/get.sh | sh -s -- --no-install         # only the binary
#   curl -fsSL …/get.sh | sh -s -- --yes --tier 2       # arguments for `appstrate install`
#
# It downloads the release tarball for this OS and architecture (Linux or
# macOS, x64 or arm64) with checksums.txt, checks the SHA-256, checks the
# minisign signature of checksums.txt when `minisign` is installed (required
# with --verify, APPSTRATE_VERIFY=1 or verify.sh), and only then installs
# atomically: the binary into /usr/local/bin as root, else ~/.local/bin, and
# the man pages and shell completions under the matching share/ directory.
# On any failure nothing is installed.
#
# Options: --verify (signature required), --no-install (do not run
# `appstrate install`), -h/--help; any other argument goes to `appstrate install`.
# Environment:
#   APPSTRATE_VERSION=v1.2.3         release tag to install (default: the latest)
#   APPSTRATE_INSTALL_DIR=DIR        where the binary goes
#   APPSTRATE_NO_INSTALL=1           same as --no-install
#   APPSTRATE_VERIFY=1               same as --verify
#   APPSTRATE_RELEASES_DOWNLOAD_URL  mirror: assets are fetched from <url>/<tag>/<asset>
#   APPSTRATE_RELEASES_API_URL       mirror: the latest tag is <url>/latest's "tag_name"
#   APPSTRATE_RELEASE_PUBKEY         minisign public key to trust instead of the project's
set -eu

repository="appstrate/appstrate-rs"
# keys/minisign.pub of the repository (key id 2BD26154A6C612A8).
project_public_key="RWSoEsamVGHSK4Wsb5/3Wf2ZEB0asthohUwdSwECbu4Gdxd5IzZI7cdG"
# verify.sh is this file with 1 here (scripts/release).
verify_by_default=0

say() {
  printf 'appstrate installer: %s\n' "$*" >&2
}

die() {
  say "error: $*"
  exit 1
}

usage() {
  if [ -f "$0" ]; then
    sed -n '2,/^set -eu$/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  else
    say "usage: see https://github.com/$repository#install"
  fi
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "this installer needs '$1', which is not on PATH"
}

# Fetches URL into FILE; any HTTP error fails.
fetch() {
  # An https URL never follows a redirect to plain http.
  case "$1" in
    https://*) protocols='=https' ;;
    *) protocols='=https,http' ;;
  esac
  if command -v curl >/dev/null 2>&1; then
    curl --proto "$protocols" --proto-redir "$protocols" -fsSL --retry 2 -o "$2" "$1" ||
      die "download failed: $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "download failed: $1"
  else
    die "this installer needs curl or wget"
  fi
}

# <os>-<arch> as the release assets name it, or a pointer to cargo install.
detect_platform() {
  os="$(uname -s)"
  arch="$(uname -m)"
  case "$os" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) unsupported "$os" "$arch" ;;
  esac
  case "$arch" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) unsupported "$os" "$arch" ;;
  esac
  # An x64 shell under Rosetta on Apple silicon: the native build is better.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] &&
    [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
    arch=arm64
  fi
  # The Linux builds link glibc; musl systems (Alpine) need a source build.
  if [ "$os" = linux ] && ldd --version 2>&1 | grep -qi musl; then
    unsupported "$os (musl libc)" "$arch"
  fi
  echo "$os-$arch"
}

unsupported() {
  die "there is no prebuilt appstrate for $1/$2 (only Linux and macOS on x64 and arm64).
Build it from source instead, with Rust (https://rustup.rs):
  cargo install --locked appstrate"
}

latest_tag() {
  fetch "$api_url/latest" "$work/latest.json"
  sed -n 's/.*"tag_name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$work/latest.json" | head -n 1
}

check_tag() {
  case "$1" in
    v[0-9]*.[0-9]*.[0-9]*) ;;
    *) die "'$1' is not a release tag like v1.2.3 (APPSTRATE_VERSION)" ;;
  esac
  case "$1" in
    *[!A-Za-z0-9.+-]*) die "'$1' is not a release tag like v1.2.3 (APPSTRATE_VERSION)" ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    die "this installer needs sha256sum, shasum or openssl to check the download"
  fi
}

# The minisign signature of checksums.txt, by the trusted key, for this tag.
check_signature() {
  if ! command -v minisign >/dev/null 2>&1; then
    if [ "$verify" = 1 ]; then
      die "minisign is required for a verified install and is not on PATH.
  macOS: brew install minisign   Debian/Ubuntu: sudo apt install minisign
  other: https://jedisct1.github.io/minisign/"
    fi
    say "minisign not found: checking the SHA-256 only, not the signature (install minisign, or use verify.sh, to check it)"
    return 0
  fi
  comment="$(minisign -Q -V -P "$public_key" -m "$work/checksums.txt" -x "$work/checksums.txt.minisig" 2>/dev/null)" ||
    die "signature verification FAILED: checksums.txt of $tag is not signed by the appstrate release key. Nothing was installed."
  # The trusted comment names the version, so an older signed manifest
  # cannot be passed off as this release.
  case " $comment " in
    *" $tag "*) say "signature of checksums.txt verified ($comment)" ;;
    *) die "the signed checksums.txt is for \"$comment\", not $tag. Nothing was installed." ;;
  esac
}

# The SHA-256 that the manifest lists for one asset (exactly one line).
expected_sha256() {
  lines="$(awk -v a="$1" '$2 == a || $2 == "*" a { print $1 }' "$work/checksums.txt")"
  case "$lines" in
    "") die "$1 is not listed in checksums.txt of $tag" ;;
    *[!0-9a-f]*) die "checksums.txt of $tag has a malformed or duplicate line for $1" ;;
  esac
  [ "${#lines}" -eq 64 ] || die "checksums.txt of $tag has a malformed or duplicate line for $1"
  echo "$lines"
}

default_install_dir() {
  if [ "$(id -u)" = 0 ]; then
    echo /usr/local/bin
  else
    [ -n "${HOME:-}" ] || die "HOME is not set; set APPSTRATE_INSTALL_DIR"
    echo "$HOME/.local/bin"
  fi
}

# Copies FILE to DEST through a temporary name in DEST's directory, so DEST
# is either the old file or the new one, never half written.
install_file() {
  staged="${2%/*}/.${2##*/}.installing.$$"
  cp "$1" "$staged" && chmod "$3" "$staged" && mv -f "$staged" "$2"
}

# Man pages and completions under <prefix>/share when the binary goes to
# <prefix>/bin; a failure here only warns.
install_extras() {
  case "$install_dir" in
    ?*/bin) share="${install_dir%/bin}/share" ;;
    *) return 0 ;;
  esac
  if copy_extras; then
    say "man pages and shell completions installed under $share"
  else
    say "warning: could not install the man pages and completions under $share (the binary is installed)"
  fi
}

copy_extras() {
  mkdir -p "$share/man/man1" "$share/bash-completion/completions" \
    "$share/zsh/site-functions" "$share/fish/vendor_completions.d" 2>/dev/null || return 1
  for page in "$unpacked"/man/man1/*.1; do
    install_file "$page" "$share/man/man1/${page##*/}" 644 || return 1
  done
  install_file "$unpacked/completions/appstrate.bash" "$share/bash-completion/completions/appstrate" 644 &&
    install_file "$unpacked/completions/_appstrate" "$share/zsh/site-functions/_appstrate" 644 &&
    install_file "$unpacked/completions/appstrate.fish" "$share/fish/vendor_completions.d/appstrate.fish" 644
}

main() {
  verify="${APPSTRATE_VERIFY:-$verify_by_default}"
  no_install="${APPSTRATE_NO_INSTALL:-0}"
  # Our own options are taken out; the rest is for `appstrate install`.
  for arg in "$@"; do
    shift
    case "$arg" in
      --verify) verify=1 ;;
      --no-install) no_install=1 ;;
      -h | --help) usage; exit 0 ;;
      *) set -- "$@" "$arg" ;;
    esac
  done

  for tool in uname id mktemp tar gzip awk sed head cut cp mv chmod mkdir rm; do need "$tool"; done
  platform="$(detect_platform)"
  download_url="${APPSTRATE_RELEASES_DOWNLOAD_URL:-https://github.com/$repository/releases/download}"
  download_url="${download_url%/}"
  api_url="${APPSTRATE_RELEASES_API_URL:-https://api.github.com/repos/$repository/releases}"
  api_url="${api_url%/}"
  public_key="${APPSTRATE_RELEASE_PUBKEY:-$project_public_key}"

  work="$(mktemp -d 2>/dev/null || mktemp -d -t appstrate)"
  staged=""
  trap 'rm -rf "$work"; [ -z "$staged" ] || rm -f "$staged"' EXIT
  trap 'exit 130' INT TERM

  tag="${APPSTRATE_VERSION:-}"
  if [ -z "$tag" ]; then
    tag="$(latest_tag)"
    [ -n "$tag" ] || die "cannot find the latest release at $api_url/latest; pin one with APPSTRATE_VERSION=v1.2.3"
  fi
  case "$tag" in [0-9]*) tag="v$tag" ;; esac
  check_tag "$tag"

  asset="appstrate-$platform.tar.gz"
  say "downloading appstrate $tag for $platform"
  fetch "$download_url/$tag/checksums.txt" "$work/checksums.txt"
  fetch "$download_url/$tag/checksums.txt.minisig" "$work/checksums.txt.minisig"
  check_signature
  expected="$(expected_sha256 "$asset")"
  fetch "$download_url/$tag/$asset" "$work/$asset"
  actual="$(sha256_of "$work/$asset")"
  [ "$actual" = "$expected" ] ||
    die "SHA-256 mismatch for $asset: expected $expected, got $actual. The download does not match the release's checksums.txt. Nothing was installed."
  say "SHA-256 of $asset verified"

  mkdir "$work/unpacked"
  gzip -dc "$work/$asset" | tar -xf - -C "$work/unpacked" || die "cannot unpack $asset"
  unpacked="$(echo "$work"/unpacked/appstrate-*)"
  [ -f "$unpacked/appstrate" ] || die "$asset has no appstrate binary"
  version_line="$("$unpacked/appstrate" -V 2>/dev/null)" || die "the downloaded appstrate does not run on this machine ($platform)"
  [ "$version_line" = "appstrate ${tag#v}" ] ||
    die "the $tag release's binary says \"$version_line\", not \"appstrate ${tag#v}\". Nothing was installed."

  install_dir="${APPSTRATE_INSTALL_DIR:-$(default_install_dir)}"
  install_dir="${install_dir%/}"
  mkdir -p "$install_dir" || die "cannot create $install_dir (set APPSTRATE_INSTALL_DIR to a directory you can write)"
  install_file "$unpacked/appstrate" "$install_dir/appstrate" 755 ||
    die "cannot install into $install_dir (set APPSTRATE_INSTALL_DIR to a directory you can write)"
  staged=""
  say "installed $version_line to $install_dir/appstrate"
  install_extras

  case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *) say "warning: $install_dir is not on your PATH; add it, e.g. in ~/.profile:
  export PATH=\"$install_dir:\$PATH\"" ;;
  esac

  if [ "$no_install" = 1 ]; then
    return 0
  fi
  # `appstrate install` reads APPSTRATE_VERSION as the platform's image tag.
  unset APPSTRATE_VERSION
  rm -rf "$work"
  trap - EXIT
  say "running: appstrate install $*"
  # Piped into sh, stdin is the script: give the installer the terminal.
  if [ ! -t 0 ] && (: </dev/tty) 2>/dev/null; then
    exec "$install_dir/appstrate" install "$@" </dev/tty
  fi
  exec "$install_dir/appstrate" install "$@"
}

main "$@"
