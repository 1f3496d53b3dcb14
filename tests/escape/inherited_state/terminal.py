# attack: find a controlling terminal to inject into or read from: open /dev/tty, check stdio for
# attack: terminals, read the tty of its own process and session, and try to make stdin its
# attack: controlling terminal.
# expect: status=ok
# expect: result.dev_tty=ENOENT
# expect: result.isatty=[false, false, false]
# expect: result.tty_nr=0
# expect: result.session_leader=true
# expect: result.ptmx=ENOENT
# stopped_by: session: result.tty_nr=0
# stopped_by: mount-namespace: result.dev_tty=ENOENT
# note: the script's process starts a new session (setsid) before exec: no controlling terminal,
# note: and stdio are /dev/null and pipes. TIOCSTI is in syscalls/tiocsti.py.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


stat = open("/proc/self/stat").read()
fields = stat[stat.rindex(")") + 2:].split()
result = {
    "dev_tty": attempt(lambda: os.open("/dev/tty", os.O_RDWR)),
    "isatty": [os.isatty(fd) for fd in (0, 1, 2)],
    "tty_nr": int(fields[4]),
    "session_leader": os.getsid(0) == os.getpid(),
    "ptmx": attempt(lambda: os.open("/dev/ptmx", os.O_RDWR)),
}
