# attack: reach the VM's host over AF_VSOCK (CID 2), which an empty network namespace does not
# attack: cover: vsock is not namespaced, and this machine is a VM with virtio-vsock.
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=security_violation
# expect: result.stream_to_host=EPERM
# expect: result.dgram=EPERM
# stopped_by: seccomp: violation=socket(AF_VSOCK)
# note: JavaScript has no vsock API; the only way there is a socket the filter refuses.
import errno, socket

AF_VSOCK, VMADDR_CID_HOST = 40, 2


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "stream_to_host": attempt(lambda: socket.socket(AF_VSOCK, socket.SOCK_STREAM).connect((VMADDR_CID_HOST, 1024))),
    "dgram": attempt(lambda: socket.socket(AF_VSOCK, socket.SOCK_DGRAM)),
}
