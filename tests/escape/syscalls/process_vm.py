# attack: read and write another process's memory: process_vm_writev into PID 1 and into its own
# attack: child, process_vm_readv, and writing the child's and its own /proc/PID/mem.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.writev_pid1=EPERM
# expect: result.writev_child=EPERM
# expect: result.readv_child=EPERM
# expect: result.child_proc_mem_write=EACCES
# expect: result.own_proc_mem_write=EACCES
# stopped_by: seccomp: violation=process_vm_writev
# stopped_by: seccomp: violation=process_vm_readv
# stopped_by: landlock: result.child_proc_mem_write=EACCES
# note: /proc/PID/mem of its own processes passes the kernel's ptrace-mode check (same uid,
# note: dumpable); Landlock grants only reading under /proc, so opening it for writing fails.
import ctypes, errno, os, time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(b"A" * 64)
iov = IoVec(ctypes.addressof(buf), 64)


def vm(nr, pid):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), ctypes.c_long(pid), ctypes.byref(iov), ctypes.c_long(1),
                      ctypes.byref(iov), ctypes.c_long(1), ctypes.c_long(0))
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


def open_write(path):
    try:
        os.open(path, os.O_WRONLY)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
result = {
    "writev_pid1": vm(311, 1),
    "writev_child": vm(311, child),
    "readv_child": vm(310, child),
    "child_proc_mem_write": open_write("/proc/%d/mem" % child),
    "own_proc_mem_write": open_write("/proc/self/mem"),
}
os.kill(child, 9)
os.waitpid(child, 0)
