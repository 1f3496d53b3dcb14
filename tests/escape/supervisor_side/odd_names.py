# attack: leave files with hostile names and unreadable directories for whoever lists or removes
# attack: scratch: newlines, terminal escapes, invalid UTF-8, leading dashes, shell syntax, 255-byte
# attack: names, then chmod 000 on directories and on /work itself.
# expect: status=ok
# expect: result.created=11
# expect: result.name_too_long=ENAMETOOLONG
# expect: result.locked_dir_listing=EACCES
# expect: result.work_locked=true
# expect: wall_ms<3000
# stopped_by: mount-namespace: wall_ms<3000
# note: the supervisor never lists, reads or removes scratch (it goes with the jail's mount
# note: namespace); the run ends as usual and the host checks pass.
import errno, os

names = [
    "new\nline", "\x1b[2J\x1b[31mred", os.fsdecode(b"bad-utf8-\xff\xfe"), "-rf", " ", "...",
    "x" * 255, "$(reboot)", "`id`", "*", "a;b|c&d",
]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


created = 0
for n in names:
    with open(os.path.join("/work", n), "w") as f:
        f.write("x")
    created += 1
os.mkdir("/work/locked")
with open("/work/locked/inside", "w") as f:
    f.write("x")
os.chmod("/work/locked", 0)
os.mkdir("/tmp/locked", 0)
result = {
    "created": created,
    "name_too_long": attempt(lambda: open("/work/" + "x" * 256, "w")),
    "locked_dir_listing": attempt(lambda: os.listdir("/work/locked")),
}
os.chmod("/work", 0)
result["work_locked"] = attempt(lambda: os.listdir("/work")) == "EACCES"
