# attack: leave a tree deeper than PATH_MAX for whoever walks or removes scratch: nest
# attack: directories with chdir until the filesystem refuses, and nest 255-byte names.
# expect: status=ok
# expect: result.stopped_by=ENOSPC
# expect: result.deeper_than_path_max=true
# expect: result.long_names_stopped_by=ENOSPC
# expect: wall_ms<4000
# stopped_by: tmpfs-limit: result.stopped_by=ENOSPC
import errno, os


def nest(root, name):
    os.chdir(root)
    depth = 0
    try:
        while True:
            os.mkdir(name)
            os.chdir(name)
            depth += 1
    except OSError as e:
        return depth, errno.errorcode.get(e.errno, str(e.errno))


depth, err = nest("/work", "d" * 8)
long_depth, long_err = nest("/tmp", "n" * 255)
os.chdir("/work")
result = {
    "stopped_by": err,
    "deeper_than_path_max": depth * 9 > 4096 and long_depth * 256 > 4096,
    "long_names_stopped_by": long_err,
}
