# attack: get a userfaultfd (used to stall the kernel at a chosen moment and win races in
# attack: exploits), by the syscall and by /dev/userfaultfd.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.syscall=EPERM
# expect: result.syscall_user_mode_only=EPERM
# expect: result.device=ENOENT
# stopped_by: seccomp: violation=userfaultfd
# stopped_by: mount-namespace: result.device=ENOENT
import ctypes, errno, os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
O_CLOEXEC, UFFD_USER_MODE_ONLY = 0o2000000, 1


def call(nr, *args):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


def device():
    try:
        os.open("/dev/userfaultfd", os.O_RDWR)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


result = {
    "syscall": call(323, O_CLOEXEC),
    "syscall_user_mode_only": call(323, O_CLOEXEC | UFFD_USER_MODE_ONLY),
    "device": device(),
}
