# attack: talk to host daemons over abstract unix sockets (no file, so no filesystem view hides
# attack: them): connect to a stream listener and send to a datagram socket the test opened on the
# attack: host, and squat the listener's name.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result.connect_stream=ENOENT
# expect: result.sendto_dgram=ECONNREFUSED
# expect: result.sendto_x11=ECONNREFUSED
# expect: result.squat_name=EPERM
# stopped_by: seccomp: quiet_violation=connect
# stopped_by: net-namespace: result.sendto_dgram=ECONNREFUSED
# stopped_by: seccomp: violation=bind
# note: abstract names belong to a network namespace, and the jail has its own; connect(2) is
# note: answered ENOENT for every socket (quietly: glibc's nscd probe makes that call); Landlock's
# note: abstract-unix-socket scope would refuse a peer outside the jail too. The suite checks the
# note: host's sockets received nothing.
import errno, socket

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "connect_stream": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("\0" + host["abstract_stream"])),
    "sendto_dgram": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", "\0" + host["abstract_dgram"])),
    "sendto_x11": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", "\0/tmp/.X11-unix/X0")),
    "squat_name": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind("\0" + host["abstract_stream"])),
}
