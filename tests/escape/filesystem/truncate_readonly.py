# attack: truncate files of the read-only tree (the interpreter, the C library, the runner) by
# attack: path, through open(O_TRUNC) and through a /proc/self/fd reopen of a read-only
# attack: descriptor, and write into a read-only device.
# expect: status=ok
# expect: result.truncate_python=EACCES
# expect: result.truncate_libc=EACCES
# expect: result.open_trunc_runner=EROFS
# expect: result.reopen_fd_for_write=EROFS
# expect: result.ftruncate_readonly_fd=EINVAL
# expect: result.write_dev_urandom=EACCES
# expect: result.truncate_scratch=ok
# stopped_by: unprivileged-uid: result.truncate_python=EACCES
# stopped_by: read-only-mount: result.open_trunc_runner=EROFS
# stopped_by: read-only-mount: result.reopen_fd_for_write=EROFS
# stopped_by: landlock: result.write_dev_urandom=EACCES
# note: truncate(2) asks the file's mode (root's, not writable by the jail's unprivileged uid)
# note: before the mount's read-only flag; open(O_TRUNC) asks the mount first.
# note: /dev/urandom is world-writable on the host and device files skip the mount's write check,
# note: so the refusal there is Landlock's alone (read_file only on /dev/random and /dev/urandom).
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def reopen():
    fd = os.open("/usr/lib/python3.11/os.py", os.O_RDONLY)
    os.open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_TRUNC)


def ftrunc():
    fd = os.open("/usr/lib/python3.11/os.py", os.O_RDONLY)
    os.ftruncate(fd, 0)


def scratch():
    with open("/tmp/mine", "w") as f:
        f.write("x" * 100)
    os.truncate("/tmp/mine", 1)


result = {
    "truncate_python": attempt(lambda: os.truncate("/usr/bin/python3.11", 0)),
    "truncate_libc": attempt(lambda: os.truncate("/lib/x86_64-linux-gnu/libc.so.6", 0)),
    "open_trunc_runner": attempt(lambda: os.open("/jaild/runner.py", os.O_WRONLY | os.O_TRUNC)),
    "reopen_fd_for_write": attempt(reopen),
    "ftruncate_readonly_fd": attempt(ftrunc),
    "write_dev_urandom": attempt(lambda: os.open("/dev/urandom", os.O_WRONLY)),
    "truncate_scratch": attempt(scratch),
}
