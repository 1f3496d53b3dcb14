# attack: fill the disk and the inode table: write 4 MiB files into /work until it refuses, then
# attack: make directories in /tmp until it refuses.
# expect: status=ok
# expect: result.bytes_stopped_by=ENOSPC
# expect: result.bytes_within_limit=true
# expect: result.inodes_stopped_by=ENOSPC
# expect: result.inodes_within_limit=true
# stopped_by: tmpfs-limit: result.bytes_stopped_by=ENOSPC
# stopped_by: tmpfs-limit: result.inodes_stopped_by=ENOSPC
# note: each scratch mount is its own tmpfs (16 MiB, 1024 inodes) in the jail's mount namespace;
# note: its pages are charged to the run's memory cgroup.
import errno, os

chunk = b"x" * (1 << 20)
written = 0
try:
    for i in range(1000):
        with open("/work/f%d" % i, "wb") as f:
            for _ in range(4):
                f.write(chunk)
                f.flush()
                written += len(chunk)
    bytes_err = "no limit"
except OSError as e:
    bytes_err = errno.errorcode.get(e.errno, str(e.errno))
dirs = 0
try:
    while True:
        os.mkdir("/tmp/d%d" % dirs)
        dirs += 1
except OSError as e:
    inodes_err = errno.errorcode.get(e.errno, str(e.errno))
result = {
    "bytes_stopped_by": bytes_err,
    "bytes_within_limit": written <= 16 << 20,
    "inodes_stopped_by": inodes_err,
    "inodes_within_limit": dirs < 1024,
}
