# attack: reach the cloud metadata services for instance credentials: 169.254.169.254 (AWS, GCP,
# attack: Azure, ...), 169.254.170.2 (ECS task credentials), fd00:ec2::254 (AWS IPv6).
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result.imds=EPERM
# expect: result.ecs=EPERM
# expect: result.imds_ipv6=EPERM
# stopped_by: seccomp: violation=socket(AF_INET)
# stopped_by: seccomp: violation=socket(AF_INET6)
import errno, socket


def attempt(addr):
    try:
        socket.create_connection(addr, timeout=2)
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "imds": attempt(("169.254.169.254", 80)),
    "ecs": attempt(("169.254.170.2", 80)),
    "imds_ipv6": attempt(("fd00:ec2::254", 80)),
}
