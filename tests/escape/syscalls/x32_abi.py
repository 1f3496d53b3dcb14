# attack: enter the kernel through the x32 ABI (syscall numbers with bit 30 set), a second syscall
# attack: table a filter written for x86_64 numbers would not cover.
# kernel_only: ctypes is blocked by the shipped policy layer; a raw syscall number is the attack
# expect: status=security_violation
# expect: violation=x32 syscall 39
# expect: result=null
# expect: stdout~before
# expect: wall_ms<3000
# stopped_by: seccomp-arch: violation=x32 syscall 39
# note: the filter sends any number with the x32 bit to the supervisor (SECCOMP_RET_USER_NOTIF)
# note: before the allowlist; the supervisor names it by its x32 number, does not answer it and
# note: stops the run. Deliberate change of expectation (issue 10, finding C), not a loosening:
# note: the filter used to kill the calling process (status runtime_error, SIGSYS), which a child
# note: process could do unseen. This kernel is built without x32 support, which would also
# note: answer ENOSYS.
import ctypes, time

libc = ctypes.CDLL(None, use_errno=True)
print("before", flush=True)
libc.syscall(ctypes.c_long(0x40000000 | 39))  # getpid through the x32 ABI
print("after", flush=True)
time.sleep(5)
result = "survived"
