# attack: raise its own limits: find its cgroup's files (memory.max, pids.max, cpu.max and their v1
# attack: names) and write them, mount a cgroup hierarchy to get at them, raise its hard rlimits,
# attack: and change another process's rlimits with prlimit.
# kernel_only: ctypes (for mount and prlimit) is blocked by the shipped policy layer
# expect: status=security_violation
# expect: result.own_cgroup_is_root=true
# expect: result.cgroupfs=ENOENT
# expect: result.write_memory_max=ENOENT
# expect: result.write_v1_memory_limit=ENOENT
# expect: result.mount_cgroup2=EPERM
# expect: result.raise_nofile_hard=EPERM
# expect: result.raise_fsize_hard=EPERM
# expect: result.prlimit_pid1=EPERM
# stopped_by: cgroup-namespace: result.own_cgroup_is_root=true
# stopped_by: mount-namespace: result.write_memory_max=ENOENT
# stopped_by: seccomp: violation=mount
# stopped_by: unprivileged-uid: result.raise_nofile_hard=EPERM
# stopped_by: seccomp: violation=prlimit64
# note: raising a hard rlimit needs CAP_SYS_RESOURCE, which the script does not hold; prlimit64 is
# note: allowed for the calling process only (pid 0).
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
RLIMIT_FSIZE, RLIMIT_NOFILE = 1, 7


class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def prlimit(pid, resource, raise_by):
    old = Rlimit()
    libc.syscall(ctypes.c_long(302), ctypes.c_long(0), ctypes.c_long(resource), None, ctypes.byref(old))
    new = Rlimit(old.max + raise_by, old.max + raise_by)
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(302), ctypes.c_long(pid), ctypes.c_long(resource), ctypes.byref(new), None)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


def write(path, data):
    with open(path, "w") as f:
        f.write(data)


def mount_cgroup2():
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(165), ctypes.c_char_p(b"cgroup2"), ctypes.c_char_p(b"/tmp"),
                      ctypes.c_char_p(b"cgroup2"), ctypes.c_long(0), None)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


paths = [line.split(":", 2)[2] for line in open("/proc/self/cgroup").read().splitlines()]
result = {
    "own_cgroup_is_root": all(p == "/" for p in paths),
    "cgroupfs": attempt(lambda: __import__("os").listdir("/sys/fs/cgroup")),
    "write_memory_max": attempt(lambda: write("/sys/fs/cgroup/memory.max", "max")),
    "write_v1_memory_limit": attempt(lambda: write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1")),
    "mount_cgroup2": mount_cgroup2(),
    "raise_nofile_hard": prlimit(0, RLIMIT_NOFILE, 1000),
    "raise_fsize_hard": prlimit(0, RLIMIT_FSIZE, 1 << 30),
    "prlimit_pid1": prlimit(1, RLIMIT_NOFILE, 0),
}
