# attack: enter the kernel through the x32 ABI (syscall numbers with bit 30 set), a second syscall
# attack: table a filter written for x86_64 numbers would not cover.
# kernel_only: ctypes is blocked by the shipped policy layer; a raw syscall number is the attack
# expect: status=runtime_error
# expect: signal=SIGSYS
# expect: result=null
# expect: stdout~before
# stopped_by: seccomp-arch: signal=SIGSYS
# note: the filter kills the process (SECCOMP_RET_KILL_PROCESS) for any x32 number before the
# note: allowlist. This kernel is built without x32 support, which would also answer ENOSYS.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
print("before", flush=True)
libc.syscall(ctypes.c_long(0x40000000 | 39))  # getpid through the x32 ABI
print("after", flush=True)
result = "survived"
