# attack: plant special files in scratch for whoever reads, cleans up or writes there after the
# attack: run (Judge0 CVE-2024-28185/28189): symlinks to host files, FIFOs that block a reader,
# attack: unix sockets bound at a path, device nodes, then end at once.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal of bind is the point
# expect: status=security_violation
# expect: result.symlink_to_shadow=ok
# expect: result.symlink_to_canary=ok
# expect: result.fifo_work=ok
# expect: result.fifo_tmp=ok
# expect: result.unix_socket_bound=EPERM
# expect: result.device_node=EPERM
# expect: result.planted=["fifo","fifo","out","regular","result.json"]
# expect: wall_ms<3000
# stopped_by: mount-namespace: result.planted=["fifo","fifo","out","regular","result.json"]
# stopped_by: mount-namespace: wall_ms<3000
# stopped_by: seccomp: violation=bind
# stopped_by: seccomp: violation=mknodat
# note: symlinks and FIFOs are the script's to make in scratch (profiles/README.md, "Symlinks,
# note: FIFOs and /dev/shm in scratch"); what stops the attack is that nothing of jaild reads,
# note: cleans up or writes in scratch: it is a tmpfs in the jail's mount namespace and
# note: disappears with it, the supervisor reads only its own pipes (the run ends at once, no
# note: reader blocks on the FIFOs) and the host check after the run finds the canaries
# note: untouched. Sockets and device nodes stay refused.
import errno, os, socket, stat

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
    "device_node": attempt(lambda: os.mknod("/work/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))),
    "planted": sorted(os.listdir("/work") + os.listdir("/tmp")),
}
