# attack: hide a denied syscall by forging the runner's result: make a denied call, write a clean
# attack: "ok" result with no violations straight to the result descriptor, and exit 0.
# expect: status=security_violation
# expect: result=all clean
# expect: exit_code=0
# stopped_by: seccomp: violation=memfd_create
# note: the report's status comes from the supervisor's own evidence (the seccomp listener it
# note: answers), not from anything the script writes: the forged result is shown as the result,
# note: the violation stays and decides the status.
import os

try:
    os.memfd_create("x")
except OSError:
    pass
os.write(4, b'{"ok": true, "result": "all clean", "violations": []}')
os.close(4)
os._exit(0)
