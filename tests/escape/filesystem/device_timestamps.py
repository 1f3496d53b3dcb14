# attack: change the host through the device nodes bound into the jail: "touch" them (utimensat
# attack: with no times needs only write permission, and /dev/null, /dev/zero and /dev/full are
# attack: world-writable host inodes), set explicit times, chmod them; writing must still work.
# expect: status=ok
# expect: result.touch_null=EROFS
# expect: result.touch_zero=EROFS
# expect: result.touch_full=EROFS
# expect: result.touch_urandom=EROFS
# expect: result.explicit_times_null=EROFS
# expect: result.chmod_null=EROFS
# expect: result.write_null=ok
# stopped_by: read-only-mount: result.touch_null=EROFS
# stopped_by: read-only-mount: result.touch_urandom=EROFS
# note: JavaScript's fs.utimes always passes explicit times, which need ownership; the Python
# note: case is the one that can touch.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write_null():
    with open("/dev/null", "w") as f:
        f.write("x")


result = {
    "touch_null": attempt(lambda: os.utime("/dev/null")),
    "touch_zero": attempt(lambda: os.utime("/dev/zero")),
    "touch_full": attempt(lambda: os.utime("/dev/full")),
    "touch_urandom": attempt(lambda: os.utime("/dev/urandom")),
    "explicit_times_null": attempt(lambda: os.utime("/dev/null", (0, 0))),
    "chmod_null": attempt(lambda: os.chmod("/dev/null", 0o777)),
    "write_null": attempt(write_null),
}
