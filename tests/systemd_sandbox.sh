#!/usr/bin/env bash
# Emulates the sandbox systemd puts jaild.service in, then execs "$@" inside it. Run in a mount
# namespace of its own (`unshare --mount`); tests/systemd_units.rs sets the variables from the
# options in systemd/jaild.service, so the jails it starts meet what the real service gives them.
#
#   SANDBOX_KEEP            paths carried into the private /tmp (the build tree when it is there)
#   SANDBOX_PRIVATE_TMP     1: PrivateTmp=yes (fresh /tmp and /var/tmp)
#   SANDBOX_PROTECT_HOME    1: ProtectHome=yes (/home, /root, /run/user inaccessible)
#   SANDBOX_PROTECT_SYSTEM  strict: ProtectSystem=strict (every mount read-only but /dev,
#                           /proc, /sys and the SANDBOX_RW paths)
#   SANDBOX_RW              ReadWritePaths= and StateDirectory= paths
#   SANDBOX_DEVICES_CGROUP  a v1 devices cgroup to join (DevicePolicy=, set up by the test)
#   SANDBOX_PROC_OVERMOUNTS paths under /proc to cover as ProtectKernelTunables= (/proc/sys,
#                           read-only) and ProtectKernelLogs= (/proc/kmsg) would
#   SANDBOX_BOUNDING_SET    setpriv's --bounding-set (CapabilityBoundingSet=)
#   SANDBOX_NNP             1: NoNewPrivileges=yes
#   SANDBOX_LIMIT_CORE      LimitCORE= (bytes; soft and hard)
set -euo pipefail

# Nothing done here may reach the host's mount table.
mount --make-rslave /

if [[ "${SANDBOX_PRIVATE_TMP:-0}" == 1 ]]; then
    keep=/run/sandbox-keep
    mkdir -p "$keep"
    mount -t tmpfs tmpfs "$keep"
    i=0
    for path in ${SANDBOX_KEEP:-}; do
        mkdir -p "$keep/$i"
        mount --rbind "$path" "$keep/$i"
        i=$((i + 1))
    done
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t tmpfs -o mode=1777 tmpfs /var/tmp
    i=0
    for path in ${SANDBOX_KEEP:-}; do
        case "$path" in
        /tmp/* | /var/tmp/*)
            mkdir -p "$path"
            mount --move "$keep/$i" "$path"
            ;;
        esac
        i=$((i + 1))
    done
fi

if [[ "${SANDBOX_PROTECT_HOME:-0}" == 1 ]]; then
    for dir in /home /root /run/user; do
        if [[ -d "$dir" ]]; then mount -t tmpfs -o ro,mode=000 tmpfs "$dir"; fi
    done
fi

for path in ${SANDBOX_RW:-}; do
    mkdir -p "$path"
    mount --bind "$path" "$path"
done

if [[ "${SANDBOX_PROTECT_SYSTEM:-}" == strict ]]; then
    # Every mount point but the API file systems, the read-write paths and the mounts made above.
    skip=" ${SANDBOX_RW:-} /tmp /var/tmp /home /root /run/user /run/sandbox-keep "
    while read -r mountpoint; do
        mountpoint="$(printf '%b' "$mountpoint")"
        case "$mountpoint" in
        /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;;
        esac
        [[ "$skip" == *" $mountpoint "* ]] && continue
        mount -o remount,bind,ro "$mountpoint" 2>/dev/null || true
    done < <(awk '{print $5}' /proc/self/mountinfo | sort -u)
fi

for path in ${SANDBOX_PROC_OVERMOUNTS:-}; do
    if [[ -d "$path" ]]; then
        mount --bind "$path" "$path"
        mount -o remount,bind,ro "$path"
    else
        mount --bind /dev/null "$path"
    fi
done

if [[ -n "${SANDBOX_DEVICES_CGROUP:-}" ]]; then
    echo $$ >"$SANDBOX_DEVICES_CGROUP/cgroup.procs"
fi

if [[ -n "${SANDBOX_LIMIT_CORE:-}" ]]; then
    prlimit --pid $$ --core="$SANDBOX_LIMIT_CORE:$SANDBOX_LIMIT_CORE"
fi

args=()
if [[ -n "${SANDBOX_BOUNDING_SET:-}" ]]; then
    args+=(--bounding-set "$SANDBOX_BOUNDING_SET" --inh-caps -all)
fi
if [[ "${SANDBOX_NNP:-0}" == 1 ]]; then
    args+=(--no-new-privs)
fi
if ((${#args[@]})); then
    exec setpriv "${args[@]}" "$@"
fi
exec "$@"
