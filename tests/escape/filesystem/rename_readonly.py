# attack: rename across the read-only tree: move the runner or a stdlib module into scratch (to
# attack: replace it), move a scratch file over the standard library or the runner, rename inside
# attack: the read-only tree, and move files between the two scratch mounts.
# expect: status=ok
# expect: result.runner_to_work=EXDEV
# expect: result.stdlib_to_tmp=EXDEV
# expect: result.work_over_stdlib=EXDEV
# expect: result.work_over_runner=EXDEV
# expect: result.runner_in_place=EROFS
# expect: result.stdlib_in_place=EROFS
# expect: result.work_to_tmp=EXDEV
# expect: result.within_work=ok
# stopped_by: mount-boundary: result.runner_to_work=EXDEV
# stopped_by: mount-boundary: result.work_over_stdlib=EXDEV
# stopped_by: read-only-mount: result.runner_in_place=EROFS
# note: rename(2) checks for a mount crossing first (EXDEV) and then for a read-only mount; the
# note: Landlock refer right, handled by every ruleset, is only granted within scratch.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


with open("/work/payload.py", "w") as f:
    f.write("import os\n")
os.mkdir("/work/sub")
result = {
    "runner_to_work": attempt(lambda: os.rename("/jaild/runner.py", "/work/runner.py")),
    "stdlib_to_tmp": attempt(lambda: os.rename("/usr/lib/python3.11/os.py", "/tmp/os.py")),
    "work_over_stdlib": attempt(lambda: os.replace("/work/payload.py", "/usr/lib/python3.11/os.py")),
    "work_over_runner": attempt(lambda: os.replace("/work/payload.py", "/jaild/runner.py")),
    "runner_in_place": attempt(lambda: os.rename("/jaild/runner.py", "/jaild/old.py")),
    "stdlib_in_place": attempt(lambda: os.rename("/usr/lib/python3.11/os.py", "/usr/lib/python3.11/os_.py")),
    "work_to_tmp": attempt(lambda: os.rename("/work/payload.py", "/tmp/payload.py")),
    "within_work": attempt(lambda: os.rename("/work/payload.py", "/work/sub/payload.py")),
}
