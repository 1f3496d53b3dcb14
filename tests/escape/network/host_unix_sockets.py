# attack: talk to host daemons over their unix socket files: systemd, D-Bus, Docker, jaild's own
# attack: API socket, the journal (datagram).
# kernel_only: the socket module is blocked by the shipped policy layer; the kernel's refusal is the point
# expect: status=ok
# expect: result.visible=[]
# expect: result.connect_docker=ENOENT
# expect: result.connect_jaild=ENOENT
# expect: result.sendto_journal=ENOENT
# stopped_by: mount-namespace: result.visible=[]
# stopped_by: mount-namespace: result.sendto_journal=ENOENT
# stopped_by: seccomp: quiet_violation=connect
# note: none of these paths is in the jail's view; connect(2) is answered ENOENT besides.
import errno, os, socket

PATHS = ["/run/systemd/private", "/run/dbus/system_bus_socket", "/var/run/docker.sock",
         "/run/jaild/jaild.sock", "/run/systemd/journal/socket", "/tmp/.X11-unix/X0"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))


result = {
    "visible": [p for p in PATHS if os.path.exists(p)],
    "connect_docker": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("/var/run/docker.sock")),
    "connect_jaild": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect("/run/jaild/jaild.sock")),
    "sendto_journal": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"MESSAGE=x\n", "/run/systemd/journal/socket")),
}
