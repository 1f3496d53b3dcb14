# attack: enter the kernel through the i386 ABI (`int 0x80`, syscall numbers of the 32-bit table:
# attack: a filter written for x86_64 numbers would read them as other syscalls): map an
# attack: executable page, write `mov eax, 20 (i386 getpid); int 0x80; ret` and call it.
# kernel_only: ctypes is blocked by the shipped policy layer; calling machine code needs it
# expect: status=security_violation
# expect: violation=i386 syscall 20 (int 0x80)
# expect: result=null
# expect: stdout~calling
# expect: wall_ms<3000
# stopped_by: seccomp-arch: violation=i386 syscall 20 (int 0x80)
# note: this kernel has IA32 emulation (the same code outside the jail returns the pid). The
# note: filter's first instructions send every syscall of another architecture to the supervisor
# note: (SECCOMP_RET_USER_NOTIF), which names it by its ABI and number (never through the x86_64
# note: table: i386 20 is getpid, x86_64 20 is writev), does not answer it, and stops the run.
# note: Deliberate change of expectation (issue 10, finding C), not a loosening: the filter used
# note: to kill the calling process (SECCOMP_RET_KILL_PROCESS, status runtime_error, SIGSYS),
# note: which a child process could do unseen; the call is now a reported violation that ends
# note: the whole run. Anonymous executable memory is allowed (JITs need it); it is not a file
# note: and Landlock does not apply.
# note: JavaScript cannot run machine code; the test other_architectures_go_to_the_supervisor_in_every_shipped_filter
# note: evaluates both compiled policies for i386 and x32 with jaild::bpf::run.
import ctypes, mmap, time

code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("calling", flush=True)
pid = function()
print("returned", pid, flush=True)
time.sleep(5)
result = pid
