# A script that tries a few ways out of the jail. Each attempt fails; the report lists the
# syscalls the kernel refused, by name, and the run's status is security_violation.
import os

attempts = {}

def attempt(name, fn):
    try:
        attempts[name] = repr(fn())
    except Exception as e:
        attempts[name] = f"{type(e).__name__}: {e}"

attempt("read /etc/shadow", lambda: open("/etc/shadow").read())
attempt("write /usr/bin/x", lambda: open("/usr/bin/x", "w").write("x"))
attempt("list /proc", lambda: sorted(os.listdir("/proc")))
attempt("kill pid 1", lambda: os.kill(1, 9))
attempt("setuid(0)", lambda: os.setuid(0))
attempt("mkfifo in /tmp", lambda: os.mkfifo("/tmp/fifo"))
attempt("chroot", lambda: os.chroot("/tmp"))

for k, v in attempts.items():
    print(f"{k:20} -> {v}")
result = attempts
