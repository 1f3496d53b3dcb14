# attack: overwrite the interpreter binary through /proc/self/exe (runc CVE-2019-5736): open it for
# attack: truncation, for read-write, reopen a read-only descriptor of it for writing, and go
# attack: through a forked child's /proc/PID/exe and PID 1's.
# expect: status=ok
# expect: result.exe_truncate=EROFS
# expect: result.exe_read_write=EACCES
# expect: result.exe_reopen_fd_write=EACCES
# expect: result.child_exe_truncate=EROFS
# expect: result.pid1_exe=ENOENT
# stopped_by: read-only-mount: result.exe_truncate=EROFS
# stopped_by: unprivileged-uid: result.exe_read_write=EACCES
# stopped_by: procfs: result.pid1_exe=ENOENT
# note: the binary is a read-only bind of a root-owned file; the jail's uid maps to an unprivileged
# note: host uid, so the file's mode refuses writing (EACCES) unless O_TRUNC asks the mount first
# note: (EROFS). PID 1's entry is hidden (hidepid=invisible).
import errno, os, time


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def reopen():
    fd = os.open("/proc/self/exe", os.O_RDONLY)
    os.open("/proc/self/fd/%d" % fd, os.O_WRONLY)


child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
result = {
    "exe_truncate": attempt(lambda: os.open("/proc/self/exe", os.O_WRONLY | os.O_TRUNC)),
    "exe_read_write": attempt(lambda: os.open("/proc/self/exe", os.O_RDWR)),
    "exe_reopen_fd_write": attempt(reopen),
    "child_exe_truncate": attempt(lambda: os.open("/proc/%d/exe" % child, os.O_WRONLY | os.O_TRUNC)),
    "pid1_exe": attempt(lambda: os.open("/proc/1/exe", os.O_RDONLY)),
}
os.kill(child, 9)
os.waitpid(child, 0)
