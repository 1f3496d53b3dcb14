# attack: change the execution domain: READ_IMPLIES_EXEC (every readable mapping executable),
# attack: ADDR_NO_RANDOMIZE (no ASLR for what it execs next), and a query.
# kernel_only: ctypes is blocked by the shipped policy layer; the raw call is the attack
# expect: status=security_violation
# expect: result.read_implies_exec=EPERM
# expect: result.addr_no_randomize=EPERM
# expect: result.query=EPERM
# stopped_by: seccomp: violation=personality
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def personality(persona):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(135), ctypes.c_ulong(persona))
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


result = {
    "read_implies_exec": personality(0x0400000),
    "addr_no_randomize": personality(0x0040000),
    "query": personality(0xFFFFFFFF),
}
