# attack: exhaust descriptors (the host's file table): open /dev/null, pipes and sockets until the
# attack: kernel refuses.
# expect: status=ok
# expect: result.stopped_by=EMFILE
# expect: result.within_limit=true
# stopped_by: rlimit: result.stopped_by=EMFILE
# note: RLIMIT_NOFILE is the profile's open_files (64).
import errno, os

fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
        fds.extend(os.pipe())
except OSError as e:
    err = errno.errorcode.get(e.errno, str(e.errno))
result = {"stopped_by": err, "within_limit": len(fds) <= 64}
