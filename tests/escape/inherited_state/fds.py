# attack: use descriptors leaked from the supervisor or jail-init (runc CVE-2024-21626: a leaked
# attack: directory fd of the host let a process fchdir out): probe every descriptor number up to
# attack: 1024, see what each is, and try fchdir and openat("..") through each.
# expect: status=ok
# expect: result.open={"0": "/dev/null", "1": "pipe", "2": "pipe", "4": "pipe"}
# expect: result.fchdir=["ENOTDIR", "ENOTDIR", "ENOTDIR", "ENOTDIR"]
# expect: result.openat_parent=["ENOTDIR", "ENOTDIR", "ENOTDIR", "ENOTDIR"]
# stopped_by: clean-fds: result.open={"0": "/dev/null", "1": "pipe", "2": "pipe", "4": "pipe"}
# note: the script's process gets stdin (/dev/null), stdout and stderr (pipes), the job (fd 3, read
# note: and closed by the runner before the script starts) and the result pipe (fd 4); jail-init's
# note: plan, control socket and cgroup files are closed before exec.
import errno, os, stat


def kind(fd):
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode):
        return "pipe"
    return os.readlink("/proc/self/fd/%d" % fd)


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


open_fds = {}
for fd in range(1024):
    try:
        os.fstat(fd)
    except OSError:
        continue
    open_fds[str(fd)] = kind(fd)
cwd = os.open(".", os.O_RDONLY)
fds = [int(f) for f in open_fds]
result = {
    "open": open_fds,
    "fchdir": [attempt(lambda fd=fd: os.fchdir(fd)) for fd in fds],
    "openat_parent": [attempt(lambda fd=fd: os.open("..", os.O_RDONLY, dir_fd=fd)) for fd in fds],
}
os.close(cwd)
