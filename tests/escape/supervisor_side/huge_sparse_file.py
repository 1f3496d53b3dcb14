# attack: make huge files for whoever copies or scans scratch: truncate a file to 1 TiB, write a
# attack: byte at 1 TiB, and leave a 15 MiB sparse file that takes no space.
# expect: status=ok
# expect: result.truncate_1tib=EFBIG
# expect: result.write_at_1tib=EFBIG
# expect: result.sparse_15mib=ok
# expect: result.sparse_size=15728640
# expect: result.sparse_blocks=0
# expect: wall_ms<3000
# stopped_by: rlimit: result.truncate_1tib=EFBIG
# note: RLIMIT_FSIZE is the profile's file_size (16 MiB); CPython ignores SIGXFSZ, so the call
# note: fails with EFBIG instead of killing the process.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write_at(path, offset):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    os.pwrite(fd, b"x", offset)


result = {
    "truncate_1tib": attempt(lambda: os.truncate(open("/work/huge", "w").name, 1 << 40)),
    "write_at_1tib": attempt(lambda: write_at("/tmp/huge", 1 << 40)),
    "sparse_15mib": attempt(lambda: os.truncate(open("/work/sparse", "w").name, 15 << 20)),
    "sparse_size": os.stat("/work/sparse").st_size,
    "sparse_blocks": os.stat("/work/sparse").st_blocks,
}
