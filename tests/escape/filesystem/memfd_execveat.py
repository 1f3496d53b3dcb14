# attack: run code without a file in scratch: memfd_create + fexecve (runc-style fileless exec),
# attack: execveat(fd, "", AT_EMPTY_PATH) of a copied interpreter, and execve of /proc/self/fd/N.
# expect: status=security_violation
# expect: result.memfd_create=ENOSYS
# expect: result.fexecve=EPERM
# expect: result.execve_proc_fd=EACCES
# stopped_by: seccomp: reported_violation=memfd_create
# stopped_by: seccomp: violation=execveat
# stopped_by: noexec-mount: result.execve_proc_fd=EACCES
# note: memfd_create is denied with ENOSYS (as on a kernel without it, so callers fall back) and
# note: listed at level report; the fileless exec attempts around it are violations.
# note: JavaScript has no memfd or fexecve API; the JavaScript exec attempts are in
# note: exec_copied_binary.js and exec_library_landlock.js.
import errno, os, shutil


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def in_child(fn):
    """Runs fn in a forked child (a successful exec would replace the runner) and returns its errno."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, attempt(fn).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 100).decode()
    os.waitpid(pid, 0)
    return out or "ran"


shutil.copy("/usr/bin/python3.11", "/work/python")
os.chmod("/work/python", 0o755)
fd = os.open("/work/python", os.O_RDONLY)
result = {
    "memfd_create": attempt(lambda: os.memfd_create("payload")),
    "fexecve": in_child(lambda: os.execve(fd, ["python", "-c", "pass"], {})),
    "execve_proc_fd": in_child(lambda: os.execve("/proc/self/fd/%d" % fd, ["python", "-c", "pass"], {})),
}
