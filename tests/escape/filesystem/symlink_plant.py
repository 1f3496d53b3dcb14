# attack: plant symlinks in scratch pointing at host secrets, at the host's canary, at PID 1's
# attack: root and at the supervisor's /proc entry (Judge0 CVE-2024-28185: a symlink in the box
# attack: that the privileged side later follows).
# expect: status=ok
# expect: result.work_to_shadow=EACCES
# expect: result.tmp_to_canary=EACCES
# expect: result.work_to_pid1_root=EACCES
# expect: result.work_to_supervisor=EACCES
# expect: result.symlinkat_relative=EACCES
# expect: result.planted=[]
# stopped_by: landlock: result.work_to_shadow=EACCES
# stopped_by: landlock: result.tmp_to_canary=EACCES
# note: scratch grants every right but make_sym, make_fifo, make_sock, make_char, make_block and
# note: execute; nothing in a script needs a symlink of its own. The supervisor never follows
# note: anything in scratch either: scratch lives and dies in the jail's mount namespace.
import errno, os

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


work = os.open("/work", os.O_RDONLY | os.O_DIRECTORY)
result = {
    "work_to_shadow": attempt(lambda: os.symlink("/etc/shadow", "/work/shadow")),
    "tmp_to_canary": attempt(lambda: os.symlink(host["canary_secret"], "/tmp/canary")),
    "work_to_pid1_root": attempt(lambda: os.symlink("/proc/1/root", "/work/root1")),
    "work_to_supervisor": attempt(lambda: os.symlink("/proc/%d/root" % host["supervisor_pid"], "/work/sup")),
    "symlinkat_relative": attempt(lambda: os.symlink("../../../../etc", "etc", dir_fd=work)),
    "planted": sorted(os.listdir("/work") + os.listdir("/tmp")),
}
