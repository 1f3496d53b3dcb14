# attack: reach services on the host's loopback (a TCP listener and a UDP socket the test opened on
# attack: 127.0.0.1), and the same ports on ::1.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result.tcp=EPERM
# expect: result.udp=EPERM
# expect: result.tcp_ipv6=EPERM
# stopped_by: seccomp: violation=socket(AF_INET)
# stopped_by: seccomp: violation=socket(AF_INET6)
# note: the jail's loopback is its own network namespace's (down); the suite checks the host's
# note: listener and UDP socket received nothing.
import errno, socket

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "tcp": attempt(lambda: socket.create_connection(("127.0.0.1", host["tcp_port"]), timeout=2)),
    "udp": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", host["udp_port"]))),
    "tcp_ipv6": attempt(lambda: socket.create_connection(("::1", host["tcp_port"]), timeout=2)),
}
