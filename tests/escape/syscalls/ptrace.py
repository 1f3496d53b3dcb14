# attack: ptrace: attach to PID 1 (jail-init, which holds the jail's setup capabilities until it
# attack: drops them), seize its own child, ask to be traced, and read PID 1's memory via /proc.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.attach_pid1=EPERM
# expect: result.seize_child=EPERM
# expect: result.traceme=EPERM
# expect: result.pid1_mem=ENOENT
# stopped_by: seccomp: violation=ptrace
# stopped_by: procfs: result.pid1_mem=ENOENT
import ctypes, errno, os, time

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE = 0, 16, 0x4206


def ptrace(req, pid):
    ctypes.set_errno(0)
    rv = libc.ptrace(ctypes.c_long(req), ctypes.c_long(pid), None, None)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


def open_errno(path):
    try:
        os.open(path, os.O_RDONLY)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
result = {
    "attach_pid1": ptrace(PTRACE_ATTACH, 1),
    "seize_child": ptrace(PTRACE_SEIZE, child),
    "traceme": ptrace(PTRACE_TRACEME, 0),
    "pid1_mem": open_errno("/proc/1/mem"),
}
os.kill(child, 9)
os.waitpid(child, 0)
