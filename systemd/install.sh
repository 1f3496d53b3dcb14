#!/usr/bin/env bash
# Installs jaild as a systemd service on this host, from this checkout:
#
#   /usr/lib/jaild/jaild, /usr/lib/jaild/jail-init   the daemon and the jails' PID 1
#   /usr/local/bin/jailctl                            the client (and in-process runner)
#   /etc/jaild/profiles/, /etc/jaild/interpreters/    profiles and interpreter manifests
#   /etc/jaild/jaild.toml                             the daemon's config (only if there is none)
#   /usr/lib/systemd/system/jaild.{service,socket}    the units
#   /usr/lib/sysusers.d/jaild.conf, /usr/lib/tmpfiles.d/jaild.conf
#   /usr/share/doc/jaild/README.md
#
# then creates the jaild group (systemd-sysusers), reserves the jails' host ids in /etc/subuid
# and /etc/subgid, creates the directories
# (systemd-tmpfiles), installs the pinned interpreters (interpreters/install.sh), reloads
# systemd and enables and starts jaild.socket (the service starts on the first connection).
#
# Run as root. Idempotent: run it again after pulling to upgrade (an existing
# /etc/jaild/jaild.toml and edited profiles are kept; see below).
#
# Environment:
#   JAILD_BIN_DIR   where the built jaild, jail-init and jailctl are (default: target/release,
#                   built here with `cargo build --release` when missing)
#   DESTDIR         install into this directory instead of / (for packaging and tests): the
#                   accounts and directories are created inside it (sysusers/tmpfiles --root),
#                   the interpreters and systemctl are left out
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
BIN_DIR="${JAILD_BIN_DIR:-$REPO/target/release}"

log() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

[[ "$(id -u)" == 0 ]] || die "run as root (it installs a system service)"
for tool in systemd-sysusers systemd-tmpfiles install; do
    command -v "$tool" >/dev/null || die "$tool not found: this host needs systemd"
done
if [[ -z "$DESTDIR" ]]; then
    command -v systemctl >/dev/null || die "systemctl not found: this host needs systemd"
    [[ -d /run/systemd/system ]] || die "systemd is not running as init here; use DESTDIR= to stage an install"
fi

# --- Binaries ---------------------------------------------------------------------------------
if [[ -z "${JAILD_BIN_DIR:-}" ]] && ! [[ -x "$BIN_DIR/jaild" && -x "$BIN_DIR/jail-init" && -x "$BIN_DIR/jailctl" ]]; then
    log "building (cargo build --release)"
    (cd "$REPO" && cargo build --release --workspace)
fi
for bin in jaild jail-init jailctl; do
    [[ -x "$BIN_DIR/$bin" ]] || die "$BIN_DIR/$bin is missing (build with cargo build --release, or set JAILD_BIN_DIR)"
done
install -D -m 0755 "$BIN_DIR/jaild" "$DESTDIR/usr/lib/jaild/jaild"
install -D -m 0755 "$BIN_DIR/jail-init" "$DESTDIR/usr/lib/jaild/jail-init"
install -D -m 0755 "$BIN_DIR/jailctl" "$DESTDIR/usr/local/bin/jailctl"
log "binaries: /usr/lib/jaild/{jaild,jail-init}, /usr/local/bin/jailctl"

# --- Profiles, interpreter manifests, config --------------------------------------------------
# The shipped files replace the installed ones (an upgrade brings new seccomp policies and
# interpreter pins together with the binaries that expect them); keep local profiles under
# other names.
install -d -m 0755 "$DESTDIR/etc/jaild/profiles" "$DESTDIR/etc/jaild/interpreters"
(cd "$REPO/profiles" && find . -type f -name '*.toml' -o -type f -name '*.json') | while read -r f; do
    install -D -m 0644 "$REPO/profiles/$f" "$DESTDIR/etc/jaild/profiles/$f"
done
for f in "$REPO"/interpreters/*.toml; do
    install -m 0644 "$f" "$DESTDIR/etc/jaild/interpreters/"
done
if [[ ! -e "$DESTDIR/etc/jaild/jaild.toml" ]]; then
    # The paths are spelled out: without them a binary built from a checkout that still exists
    # would use the checkout's profiles/ and interpreters/.
    cat >"$DESTDIR/etc/jaild/jaild.toml" <<'EOF'
# jaild's configuration. Every key has a safe default; see README.md ("The daemon").
profiles_dir = "/etc/jaild/profiles"
interpreters_dir = "/etc/jaild/interpreters"
jail_init = "/usr/lib/jaild/jail-init"
store = "/var/lib/jaild/history.db"
EOF
    chmod 0644 "$DESTDIR/etc/jaild/jaild.toml"
    log "config: wrote /etc/jaild/jaild.toml"
else
    log "config: kept the existing /etc/jaild/jaild.toml"
fi
install -D -m 0644 "$REPO/README.md" "$DESTDIR/usr/share/doc/jaild/README.md"

# --- systemd ----------------------------------------------------------------------------------
install -D -m 0644 "$REPO/systemd/jaild.service" "$DESTDIR/usr/lib/systemd/system/jaild.service"
install -D -m 0644 "$REPO/systemd/jaild.socket" "$DESTDIR/usr/lib/systemd/system/jaild.socket"
install -D -m 0644 "$REPO/systemd/sysusers.d/jaild.conf" "$DESTDIR/usr/lib/sysusers.d/jaild.conf"
install -D -m 0644 "$REPO/systemd/tmpfiles.d/jaild.conf" "$DESTDIR/usr/lib/tmpfiles.d/jaild.conf"
log "units: jaild.service, jaild.socket; sysusers.d and tmpfiles.d entries"

# --- The jails' host ids ----------------------------------------------------------------------
# Every jail running at once maps onto host ids of its own (README.md, "Security"): with
# host_id_base B and host_id_slots N in jaild.toml (200000 and 1000 by default), B..B+N-1 are the
# jails' roots (and own their user namespaces) and B+1000..B+1000+N-1 their scripts. Nothing
# else on the host may hold them: no account, and nobody's subordinate ids (rootless
# containers), or that user could enter a jail's files and processes as their own. So the span
# B..B+1000+N-1 is checked against the accounts and /etc/subuid and /etc/subgid, then reserved
# there under the name "jaild": no user of that name exists, so nobody may map them, and useradd
# allocates new subordinate ranges around it.
conf="$DESTDIR/etc/jaild/jaild.toml"
setting() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$conf" | tail -n 1; }
id_base="$(setting host_id_base)"
id_base="${id_base:-200000}"
id_slots="$(setting host_id_slots)"
id_slots="${id_slots:-1000}"
id_span=$((1000 + id_slots))
id_last=$((id_base + id_span - 1))
for f in "$DESTDIR/etc/subuid" "$DESTDIR/etc/subgid"; do
    [[ -r "$f" ]] || continue
    while IFS=: read -r owner start count; do
        [[ "$owner" != jaild && "$start" =~ ^[0-9]+$ && "$count" =~ ^[0-9]+$ ]] || continue
        if ((start <= id_last && start + count - 1 >= id_base)); then
            die "$f gives $owner the ids $start-$((start + count - 1)), which overlap the jails' ids $id_base-$id_last; move that range or set host_id_base in /etc/jaild/jaild.toml"
        fi
    done <"$f"
done
for f in passwd group; do
    [[ -r "$DESTDIR/etc/$f" ]] || continue
    taken="$(awk -F: -v lo="$id_base" -v hi="$id_last" '$3 >= lo && $3 <= hi { printf "%s(%s) ", $1, $3 }' "$DESTDIR/etc/$f")"
    [[ -z "$taken" ]] || die "/etc/$f has ${taken}within the jails' ids $id_base-$id_last; set host_id_base in /etc/jaild/jaild.toml"
done
for f in "$DESTDIR/etc/subuid" "$DESTDIR/etc/subgid"; do
    if [[ -e "$f" ]]; then
        grep -v '^jaild:' "$f" >"$f.jaild-new" || true
    else
        : >"$f.jaild-new"
    fi
    printf 'jaild:%s:%s\n' "$id_base" "$id_span" >>"$f.jaild-new"
    chmod 0644 "$f.jaild-new"
    mv "$f.jaild-new" "$f"
done
log "host ids: $id_base-$((id_base + id_slots - 1)) (jails' roots) and $((id_base + 1000))-$id_last (scripts), reserved in /etc/subuid and /etc/subgid"

if [[ -n "$DESTDIR" ]]; then
    systemd-sysusers --root="$DESTDIR" "$DESTDIR/usr/lib/sysusers.d/jaild.conf"
    systemd-tmpfiles --root="$DESTDIR" --create "$DESTDIR/usr/lib/tmpfiles.d/jaild.conf"
    log "staged in $DESTDIR (interpreters and systemctl left out)"
    exit 0
fi

systemd-sysusers /usr/lib/sysusers.d/jaild.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/jaild.conf
bash "$REPO/interpreters/install.sh"
systemctl daemon-reload
systemctl enable --now jaild.socket
# A running daemon keeps its old binary until restarted; restart it if it runs.
systemctl try-restart jaild.service
log "done: jaild.socket listens on /run/jaild/jaild.sock; members of the jaild group may use it"
log "try: jailctl health"
