# attack: enter the kernel through the i386 ABI (`int 0x80`, syscall numbers of the 32-bit table:
# attack: a filter written for x86_64 numbers would read them as other syscalls): map an
# attack: executable page, write `mov eax, 20 (i386 getpid); int 0x80; ret` and call it.
# kernel_only: ctypes is blocked by the shipped policy layer; calling machine code needs it
# expect: status=runtime_error
# expect: signal=SIGSYS
# expect: result=null
# expect: stdout~calling
# stopped_by: seccomp-arch: signal=SIGSYS
# note: this kernel has IA32 emulation (the same code outside the jail returns the pid); the
# note: filter's first instructions kill the process for any architecture but x86_64. Anonymous
# note: executable memory is allowed (JITs need it); it is not a file and Landlock does not apply.
# note: JavaScript cannot run machine code; the test other_architectures_are_killed_by_every_shipped_filter
# note: evaluates both compiled policies for i386 and x32 with jaild::bpf::run.
import ctypes, mmap

code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("calling", flush=True)
pid = function()
print("returned", pid, flush=True)
result = pid
