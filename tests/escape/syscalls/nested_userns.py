# attack: get capabilities back through a nested user namespace (the usual first step of a kernel
# attack: exploit): unshare and clone with CLONE_NEWUSER, other namespace flags, clone3 (whose
# attack: flags seccomp cannot see), and setns into the jail's own namespaces.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.unshare_user=EPERM
# expect: result.unshare_mount=EPERM
# expect: result.unshare_user_mount=EPERM
# expect: result.unshare_net=EPERM
# expect: result.clone_user=EPERM
# expect: result.clone3=ENOSYS
# expect: result.setns_user=EPERM
# stopped_by: seccomp: violation=unshare(CLONE_NEWUSER)
# stopped_by: seccomp: violation=unshare(CLONE_NEWNS)
# stopped_by: seccomp: violation=unshare(CLONE_NEWNS|CLONE_NEWUSER)
# stopped_by: seccomp: violation=unshare(CLONE_NEWNET)
# stopped_by: seccomp: violation=clone(CLONE_NEWUSER)
# stopped_by: seccomp: violation=setns
# stopped_by: seccomp: quiet_violation=clone3
# note: clone3 is answered ENOSYS (quietly: glibc probes it) so that callers fall back to clone,
# note: whose flags the filter checks.
import ctypes, errno, os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_clone, SYS_unshare, SYS_setns, SYS_clone3 = 56, 272, 308, 435
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x20000, 0x10000000, 0x40000000, 17


def call(nr, *args, forks=False):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if forks and rv == 0:
        os._exit(0)  # a child that got through must not run the rest of the script
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


class CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls")]


args = CloneArgs(flags=CLONE_NEWUSER, exit_signal=SIGCHLD)
userns = os.open("/proc/self/ns/user", os.O_RDONLY)
result = {
    "unshare_user": call(SYS_unshare, CLONE_NEWUSER),
    "unshare_mount": call(SYS_unshare, CLONE_NEWNS),
    "unshare_user_mount": call(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS),
    "unshare_net": call(SYS_unshare, CLONE_NEWNET),
    "clone_user": call(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, forks=True),
    "clone3": call(SYS_clone3, ctypes.addressof(args), ctypes.sizeof(args), forks=True),
    "setns_user": call(SYS_setns, userns, CLONE_NEWUSER),
}
