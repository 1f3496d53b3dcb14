# attack: make the i386 call (`int 0x80`) from a forked child while the script's main process
# attack: carries on and returns a result: a filter that only kills the calling process leaves
# attack: the run looking clean (status ok), the child's death unreported.
# kernel_only: ctypes is blocked by the shipped policy layer; calling machine code needs it
# expect: status=security_violation
# expect: violation=i386 syscall 20 (int 0x80)
# expect: result=null
# expect: stdout~forking
# expect: wall_ms<3000
# stopped_by: seccomp-arch: violation=i386 syscall 20 (int 0x80)
# note: the child's call goes to the supervisor (SECCOMP_RET_USER_NOTIF), which reports it and
# note: stops the whole run at once: the parent never gets to its result (it would wait 2 s, and
# note: the run is over well before). Before issue 10 (finding C) the child was killed with
# note: SIGSYS and the report said status ok.
import ctypes, mmap, os, time

code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print("forking", flush=True)
child = os.fork()
if child == 0:
    function()
    os._exit(0)
time.sleep(2)
os.waitpid(child, 0)
result = "the parent finished"
