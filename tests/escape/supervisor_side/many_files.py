# attack: leave millions of files behind for whoever cleans up: create empty files and then hard
# attack: links (which use no new inode on most filesystems) until the filesystem refuses, in both
# attack: scratch mounts.
# expect: status=ok
# expect: result.files_stopped_by=ENOSPC
# expect: result.links_stopped_by=ENOSPC
# expect: result.tmp_stopped_by=ENOSPC
# expect: result.within_inode_limit=true
# expect: wall_ms<4000
# stopped_by: tmpfs-limit: result.files_stopped_by=ENOSPC
# stopped_by: tmpfs-limit: result.links_stopped_by=ENOSPC
# note: each scratch tmpfs has nr_inodes=1024, and tmpfs charges every hard link against it too.
import errno, os


def fill(make, limit=1_000_000):
    n = 0
    try:
        while n < limit:
            make(n)
            n += 1
        return n, "no limit"
    except OSError as e:
        return n, errno.errorcode.get(e.errno, str(e.errno))


os.mkdir("/work/f")
files, files_err = fill(lambda i: os.close(os.open("/work/f/%d" % i, os.O_CREAT | os.O_WRONLY)))
os.unlink("/work/f/0")
os.unlink("/work/f/1")
os.mkdir("/work/l")
links, links_err = fill(lambda i: os.link("/work/f/2", "/work/l/%d" % i))
tmp, tmp_err = fill(lambda i: os.close(os.open("/tmp/%d" % i, os.O_CREAT | os.O_WRONLY)))
result = {
    "files_stopped_by": files_err,
    "links_stopped_by": links_err,
    "tmp_stopped_by": tmp_err,
    "within_inode_limit": files < 1024 and links < 1024 and tmp < 1024,
}
