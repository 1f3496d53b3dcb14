# attack: plant symlinks in scratch pointing at host secrets, at the host's canary, at PID 1's
# attack: root and at the supervisor's /proc entry, then read, list and write through them
# attack: (Judge0 CVE-2024-28185: a symlink in the box that the privileged side later follows).
# expect: status=ok
# expect: result.made=["ok","ok","ok","ok","ok"]
# expect: result.read_shadow=ENOENT
# expect: result.read_canary=ENOENT
# expect: result.list_pid1_root=ENOENT
# expect: result.list_supervisor=ENOENT
# expect: result.list_relative=EACCES
# expect: result.write_relative=EROFS
# stopped_by: mount-namespace: result.read_shadow=ENOENT
# stopped_by: mount-namespace: result.read_canary=ENOENT
# stopped_by: procfs: result.list_pid1_root=ENOENT
# stopped_by: procfs: result.list_supervisor=ENOENT
# stopped_by: landlock: result.list_relative=EACCES
# stopped_by: read-only-mount: result.write_relative=EROFS
# note: scratch grants make_sym (profiles/README.md, "Symlinks, FIFOs and /dev/shm in scratch"):
# note: a symlink is resolved inside the jail's mount namespace and Landlock checks what it
# note: reaches, so a link opens exactly what the path itself would: nothing of the host. Nothing
# note: outside the jail follows anything in scratch: it lives and dies in the jail's mount
# note: namespace, and the host check after the run proves the canaries untouched.
import errno, os

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


work = os.open("/work", os.O_RDONLY | os.O_DIRECTORY)
made = [
    attempt(lambda: os.symlink("/etc/shadow", "/work/shadow")),
    attempt(lambda: os.symlink(host["canary_secret"], "/tmp/canary")),
    attempt(lambda: os.symlink("/proc/1/root", "/work/root1")),
    attempt(lambda: os.symlink("/proc/%d/root" % host["supervisor_pid"], "/work/sup")),
    attempt(lambda: os.symlink("../../../../etc", "etc", dir_fd=work)),
]
result = {
    "made": made,
    "read_shadow": attempt(lambda: open("/work/shadow").read()),
    "read_canary": attempt(lambda: open("/tmp/canary").read()),
    "list_pid1_root": attempt(lambda: os.listdir("/work/root1")),
    "list_supervisor": attempt(lambda: os.listdir("/work/sup")),
    "list_relative": attempt(lambda: os.listdir("/work/etc")),
    "write_relative": attempt(lambda: open("/work/etc/passwd", "w")),
}
