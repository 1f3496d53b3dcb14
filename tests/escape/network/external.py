# attack: reach the internet: TCP to a public resolver's HTTPS port, UDP to a public DNS server,
# attack: and TCP over IPv6.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result.tcp_ipv4=EPERM
# expect: result.udp_dns=EPERM
# expect: result.tcp_ipv6=EPERM
# stopped_by: seccomp: violation=socket(AF_INET)
# stopped_by: seccomp: violation=socket(AF_INET6)
# note: only AF_UNIX sockets can be created; behind that, the jail's network namespace is empty
# note: (not even loopback is up), and Landlock handles TCP connect with no port granted.
import errno, socket


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "tcp_ipv4": attempt(lambda: socket.create_connection(("1.1.1.1", 443), timeout=2)),
    "udp_dns": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"\0" * 12, ("8.8.8.8", 53))),
    "tcp_ipv6": attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).connect(("2606:4700:4700::1111", 443))),
}
