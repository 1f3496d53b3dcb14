# attack: io_uring: a large kernel attack surface whose operations bypass per-syscall filtering
# attack: (an io_uring openat or connect is never seen by seccomp). Set up a ring, enter and
# attack: register on a made-up fd.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.setup=EPERM
# expect: result.enter=EPERM
# expect: result.register=EPERM
# stopped_by: seccomp: violation=io_uring_setup
# stopped_by: seccomp: violation=io_uring_enter
# stopped_by: seccomp: violation=io_uring_register
# note: the python policy has no entry for io_uring (CPython never probes it): the default answer,
# note: EPERM, and a loud violation. The node policy answers libuv's probe ENOSYS quietly (io_uring.js).
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
params = ctypes.create_string_buffer(120)


def call(nr, *args):
    ctypes.set_errno(0)
    conv = [a if isinstance(a, ctypes.Array) else ctypes.c_long(a) for a in args]
    rv = libc.syscall(ctypes.c_long(nr), *conv)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


result = {
    "setup": call(425, 8, params),
    "enter": call(426, 3, 1, 0, 0, 0, 0),
    "register": call(427, 3, 0, 0, 0),
}
