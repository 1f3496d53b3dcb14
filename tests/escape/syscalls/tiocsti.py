# attack: inject keystrokes into a terminal with TIOCSTI on stdin, stdout and stderr (typed into
# attack: the shell of whoever ran the jail), and TIOCLINUX (the console's selection paste).
# expect: status=security_violation
# expect: result.stdin=EPERM
# expect: result.stdout=EPERM
# expect: result.stderr=EPERM
# expect: result.tioclinux=EPERM
# stopped_by: seccomp: violation=ioctl(0x5412 TIOCSTI)
# stopped_by: seccomp: violation=ioctl(0x541c TIOCLINUX)
# note: the ioctl allowlist passes five request numbers only. The jail also has no terminal: its
# note: stdio are /dev/null and pipes, in a new session (inherited_state/terminal.py).
import errno, fcntl, termios

TIOCLINUX = 0x541C


def ioctl(fd, request, arg):
    try:
        fcntl.ioctl(fd, request, arg)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


result = {
    "stdin": ioctl(0, termios.TIOCSTI, b"x"),
    "stdout": ioctl(1, termios.TIOCSTI, b"x"),
    "stderr": ioctl(2, termios.TIOCSTI, b"x"),
    "tioclinux": ioctl(1, TIOCLINUX, b"\x02"),
}
