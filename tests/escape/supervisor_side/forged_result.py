# attack: hide a denied syscall by forging the runner's result: make a denied call (a device node), write a clean
# attack: "ok" result with no violations straight to the result descriptor, and exit 0.
# expect: status=security_violation
# expect: result=all clean
# expect: exit_code=0
# stopped_by: seccomp: violation=mknodat
# note: the report's status comes from the supervisor's own evidence (the seccomp listener it
# note: answers), not from anything the script writes: the forged result is shown as the result,
# note: the violation stays and decides the status.
import os, stat

try:
    os.mknod("/tmp/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
except OSError:
    pass
os.write(4, b'{"ok": true, "result": "all clean", "violations": []}')
os.close(4)
os._exit(0)
