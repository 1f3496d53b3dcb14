# attack: open a perf event (hardware counters, kernel profiling; a long record of kernel bugs and
# attack: side channels) on itself and on every CPU.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.self=EPERM
# expect: result.all_cpus=EPERM
# stopped_by: seccomp: violation=perf_event_open
import ctypes, errno, struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK = 1, 0
attr = ctypes.create_string_buffer(struct.pack("<IIQ", PERF_TYPE_SOFTWARE, 128, PERF_COUNT_SW_CPU_CLOCK), 128)


def perf(pid, cpu):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(298), attr, ctypes.c_long(pid), ctypes.c_long(cpu), ctypes.c_long(-1), ctypes.c_long(0))
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


result = {"self": perf(0, -1), "all_cpus": perf(-1, 0)}
