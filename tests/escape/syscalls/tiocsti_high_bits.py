# attack: slip TIOCSTI past a filter that compares the request as 64 bits: the tty layer reads the
# attack: request as a 32-bit int, so 0x100005412 and 0xffffffff00005412 are TIOCSTI to the kernel.
# kernel_only: ctypes is blocked by the shipped policy layer; a raw 64-bit ioctl request is the attack
# expect: status=security_violation
# expect: result.bit_32=EPERM
# expect: result.all_high_bits=EPERM
# stopped_by: seccomp: violation=ioctl(0x100005412 TIOCSTI)
# stopped_by: seccomp: violation=ioctl(0xffffffff00005412 TIOCSTI)
# note: the allowlist compares the full 64-bit argument for equality with the few allowed
# note: requests, so any high bit makes the request unknown and denied, and the report names it.
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
c = ctypes.c_char(b"x")


def ioctl(request):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(16), ctypes.c_long(0), ctypes.c_ulong(request), ctypes.byref(c))
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


result = {"bit_32": ioctl(0x100005412), "all_high_bits": ioctl(0xFFFFFFFF00005412)}
