# attack: walk out of the jail's root through /proc: /proc/self/root and its "..", PID 1's root and
# attack: cwd, every visible process's root, and the supervisor's root by its host pid.
# expect: status=ok
# expect: result.self_root_is_jail_root=true
# expect: result.dotdot_stays_in_jail=true
# expect: result.shadow_via_self_root=ENOENT
# expect: result.pid1_root=ENOENT
# expect: result.pid1_cwd=ENOENT
# expect: result.visible_pids=[2]
# expect: result.every_visible_root_is_jail_root=true
# expect: result.supervisor_root=ENOENT
# stopped_by: mount-namespace: result.self_root_is_jail_root=true
# stopped_by: mount-namespace: result.shadow_via_self_root=ENOENT
# stopped_by: procfs: result.pid1_root=ENOENT
# stopped_by: pid-namespace: result.supervisor_root=ENOENT
# note: after pivot_root the old root is detached; the jail's /proc is mounted with hidepid=invisible
# note: so jail-init (PID 1, uid 0) is not there at all, and the script (PID 2) sees itself only.
# note: The roots are compared by device and inode: Landlock grants no right on "/" itself, so the
# note: root directory cannot even be listed.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def same(a, b):
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
result = {
    "self_root_is_jail_root": same("/proc/self/root", "/"),
    "dotdot_stays_in_jail": same("/proc/self/root/../../../..", "/"),
    "shadow_via_self_root": attempt(lambda: open("/proc/self/root/etc/shadow").read()),
    "pid1_root": attempt(lambda: os.listdir("/proc/1/root")),
    "pid1_cwd": attempt(lambda: os.listdir("/proc/1/cwd")),
    "visible_pids": pids,
    "every_visible_root_is_jail_root": all(same("/proc/%d/root" % p, "/") for p in pids),
    "supervisor_root": attempt(lambda: os.listdir("/proc/%d/root" % input["host"]["supervisor_pid"])),
}
