# attack: hard-link files of the read-only tree into scratch (the interpreter, the loader, the
# attack: runner, the standard library) to get a writable name or change their link count, and
# attack: link between the two scratch mounts.
# expect: status=ok
# expect: result.python_into_work=EXDEV
# expect: result.loader_into_tmp=EXDEV
# expect: result.runner_into_work=EXDEV
# expect: result.stdlib_into_tmp=EXDEV
# expect: result.runner_next_to_itself=EROFS
# expect: result.work_into_tmp=EXDEV
# expect: result.within_work=ok
# stopped_by: mount-boundary: result.python_into_work=EXDEV
# stopped_by: mount-boundary: result.runner_into_work=EXDEV
# stopped_by: read-only-mount: result.runner_next_to_itself=EROFS
# note: every bind of the read-only tree is its own mount and link(2) never crosses mounts, so the
# note: VFS refuses these before Landlock's refer check (LANDLOCK_ACCESS_FS_REFER, handled and
# note: granted on scratch only) is reached; Landlock is the second line here, not the first.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


with open("/work/mine", "w") as f:
    f.write("x")
result = {
    "python_into_work": attempt(lambda: os.link("/usr/bin/python3.11", "/work/python")),
    "loader_into_tmp": attempt(lambda: os.link("/lib64/ld-linux-x86-64.so.2", "/tmp/ld.so")),
    "runner_into_work": attempt(lambda: os.link("/jaild/runner.py", "/work/runner.py")),
    "stdlib_into_tmp": attempt(lambda: os.link("/usr/lib/python3.11/os.py", "/tmp/os.py")),
    "runner_next_to_itself": attempt(lambda: os.link("/jaild/runner.py", "/jaild/runner2.py")),
    "work_into_tmp": attempt(lambda: os.link("/work/mine", "/tmp/mine")),
    "within_work": attempt(lambda: os.link("/work/mine", "/work/mine2")),
}
