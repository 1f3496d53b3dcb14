# attack: plant special files in scratch for whoever reads, cleans up or writes there after the
# attack: run (Judge0 CVE-2024-28185/28189): symlinks to host files, FIFOs that block a reader,
# attack: unix sockets bound at a path, device nodes, then end at once.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal of bind is the point
# expect: status=security_violation
# expect: result.symlink_to_shadow=EACCES
# expect: result.symlink_to_canary=EACCES
# expect: result.fifo_work=EPERM
# expect: result.fifo_tmp=EPERM
# expect: result.unix_socket_bound=EPERM
# expect: result.planted=["regular"]
# expect: wall_ms<3000
# stopped_by: landlock: result.symlink_to_shadow=EACCES
# stopped_by: seccomp: violation=mknodat
# stopped_by: seccomp: violation=bind
# note: nothing of jaild reads, cleans up or writes in scratch: it is a tmpfs in the jail's mount
# note: namespace and disappears with it; the supervisor reads only its own pipes.
import errno, os, socket

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def bind_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("/work/sock")


with open("/work/regular", "w") as f:
    f.write("x")
result = {
    "symlink_to_shadow": attempt(lambda: os.symlink("/etc/shadow", "/work/result.json")),
    "symlink_to_canary": attempt(lambda: os.symlink(host["canary_public"], "/tmp/out")),
    "fifo_work": attempt(lambda: os.mkfifo("/work/fifo")),
    "fifo_tmp": attempt(lambda: os.mkfifo("/tmp/fifo")),
    "unix_socket_bound": attempt(bind_socket),
    "planted": sorted(os.listdir("/work") + os.listdir("/tmp")),
}
