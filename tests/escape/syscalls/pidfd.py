# attack: steal descriptors and signal through pidfds: pidfd_open on PID 1 and on its own child,
# attack: pidfd_getfd of the child's descriptors (how a leaked fd of a privileged process is
# attack: taken), pidfd_send_signal.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.open_pid1=EPERM
# expect: result.open_child=EPERM
# expect: result.getfd=EPERM
# expect: result.send_signal=EPERM
# stopped_by: seccomp: violation=pidfd_open
# stopped_by: seccomp: violation=pidfd_getfd
# stopped_by: seccomp: violation=pidfd_send_signal
import ctypes, errno, os, time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(nr, *args):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
# the pidfd a successful pidfd_open would have returned is unknowable here: ask with the child's
# own pid number as a stand-in descriptor; the filter decides on the syscall number alone
result = {
    "open_pid1": call(434, 1, 0),
    "open_child": call(434, child, 0),
    "getfd": call(438, 3, 1, 0),
    "send_signal": call(424, 3, 9, 0, 0),
}
os.kill(child, 9)
os.waitpid(child, 0)
