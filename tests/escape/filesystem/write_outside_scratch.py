# attack: write outside the scratch mounts: overwrite and append to the standard library, plant
# attack: a module next to it, overwrite or delete the runner, create files at the root, in /dev
# attack: and /etc, make the interpreter setuid, touch the runner, write the host's canary.
# expect: status=ok
# expect: result.stdlib_overwrite=EROFS
# expect: result.stdlib_append=EACCES
# expect: result.stdlib_new_module=EROFS
# expect: result.runner_overwrite=EROFS
# expect: result.runner_unlink=EROFS
# expect: result.runner_utime=EROFS
# expect: result.root_new_file=EROFS
# expect: result.mkdir_etc=EROFS
# expect: result.dev_new_file=EROFS
# expect: result.chmod_setuid_python=EROFS
# expect: result.host_canary=ENOENT
# expect: result.scratch_still_writable=ok
# stopped_by: read-only-mount: result.stdlib_overwrite=EROFS
# stopped_by: read-only-mount: result.root_new_file=EROFS
# stopped_by: unprivileged-uid: result.stdlib_append=EACCES
# stopped_by: mount-namespace: result.host_canary=ENOENT
# note: opening an existing file for writing without O_TRUNC is refused by the file's owner and
# note: mode (root's 0644; the jail's uid maps to an unprivileged host uid) before the mount's
# note: read-only flag is consulted; Landlock (no write right outside scratch) would refuse it next.
import errno, os

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write(path, mode):
    with open(path, mode) as f:
        f.write("import os; os.system('id')\n")


result = {
    "stdlib_overwrite": attempt(lambda: write("/usr/lib/python3.11/os.py", "w")),
    "stdlib_append": attempt(lambda: write("/usr/lib/python3.11/os.py", "a")),
    "stdlib_new_module": attempt(lambda: write("/usr/lib/python3.11/jaild_planted.py", "x")),
    "runner_overwrite": attempt(lambda: write("/jaild/runner.py", "w")),
    "runner_unlink": attempt(lambda: os.unlink("/jaild/runner.py")),
    "runner_utime": attempt(lambda: os.utime("/jaild/runner.py", (0, 0))),
    "root_new_file": attempt(lambda: write("/evil", "x")),
    "mkdir_etc": attempt(lambda: os.mkdir("/etc/jaild-escape")),
    "dev_new_file": attempt(lambda: write("/dev/evil", "x")),
    "chmod_setuid_python": attempt(lambda: os.chmod("/usr/bin/python3.11", 0o4755)),
    "host_canary": attempt(lambda: write(host["canary_public"], "w")),
    "scratch_still_writable": attempt(lambda: write("/work/fine.txt", "w")),
}
