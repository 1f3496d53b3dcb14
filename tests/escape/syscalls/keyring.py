# attack: the kernel keyrings (shared across the host by uid, a classic source of kernel bugs and
# attack: of secrets): read the session keyring, add a key, request one.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.keyctl_get_session=EPERM
# expect: result.add_key=EPERM
# expect: result.request_key=EPERM
# stopped_by: seccomp: violation=keyctl
# stopped_by: seccomp: violation=add_key
# stopped_by: seccomp: violation=request_key
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(nr, *args):
    ctypes.set_errno(0)
    conv = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args]
    rv = libc.syscall(ctypes.c_long(nr), *conv)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, -3
result = {
    "keyctl_get_session": call(250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
    "add_key": call(248, b"user", b"jaild-escape", b"secret", 6, KEY_SPEC_SESSION_KEYRING),
    "request_key": call(249, b"user", b"jaild-escape", 0, KEY_SPEC_SESSION_KEYRING),
}
