# attack: the other socket families: AF_PACKET (raw frames), raw and ping IP sockets, netlink
# attack: (routing, audit, uevents), AF_ALG (kernel crypto, CVE-2021-... style bugs), AF_XDP,
# attack: Bluetooth, CAN, PF_KEY, and AF_UNIX pairs (allowed) as the control.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result={"alg": "EPERM", "bluetooth": "EPERM", "can": "EPERM", "icmp_ping": "EPERM", "key": "EPERM", "netlink_audit": "EPERM", "netlink_route": "EPERM", "netlink_uevent": "EPERM", "packet": "EPERM", "raw_ip": "EPERM", "unix_pair": "ok", "xdp": "EPERM"}
# stopped_by: seccomp: violation=socket(AF_PACKET)
# stopped_by: seccomp: violation=socket(AF_INET)
# stopped_by: seccomp: violation=socket(AF_NETLINK)
# stopped_by: seccomp: violation=socket(AF_ALG)
# stopped_by: seccomp: violation=socket(AF_XDP)
# stopped_by: seccomp: violation=socket(AF_BLUETOOTH)
# stopped_by: seccomp: violation=socket(AF_CAN)
# stopped_by: seccomp: violation=socket(family 15)
import errno, socket

FAMILIES = {
    "packet": (17, socket.SOCK_RAW, 0x0300),
    "raw_ip": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "icmp_ping": (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
    "netlink_route": (16, socket.SOCK_RAW, 0),
    "netlink_audit": (16, socket.SOCK_RAW, 9),
    "netlink_uevent": (16, socket.SOCK_DGRAM, 15),
    "alg": (38, socket.SOCK_SEQPACKET, 0),
    "xdp": (44, socket.SOCK_RAW, 0),
    "bluetooth": (31, socket.SOCK_RAW, 1),
    "can": (29, socket.SOCK_RAW, 1),
    "key": (15, socket.SOCK_RAW, 2),
}


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {name: attempt(lambda spec=spec: socket.socket(*spec)) for name, spec in FAMILIES.items()}
result["unix_pair"] = attempt(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
