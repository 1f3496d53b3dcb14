# attack: read the supervisor's environment (tokens, credentials, paths): the script's own, its
# attack: /proc/self/environ, PID 1's, and a variable the test set in the supervisor.
# expect: status=ok
# expect: result.environ={"HOME": "/work", "LANG": "C.UTF-8", "PATH": "/usr/bin", "PYTHONHASHSEED": "0", "TMPDIR": "/tmp"}
# expect: result.proc_environ_matches=true
# expect: result.pid1_environ=ENOENT
# expect: result.supervisor_secret_seen=false
# stopped_by: clean-environment: result.environ={"HOME": "/work", "LANG": "C.UTF-8", "PATH": "/usr/bin", "PYTHONHASHSEED": "0", "TMPDIR": "/tmp"}
# stopped_by: procfs: result.pid1_environ=ENOENT
# note: jail-init is started with an empty environment and execs the interpreter with exactly the
# note: profile's [environment].
import errno, os

host = input["host"]
try:
    open("/proc/1/environ", "rb").read()
    pid1 = "read"
except OSError as e:
    pid1 = errno.errorcode[e.errno]
proc = dict(e.split("=", 1) for e in open("/proc/self/environ").read().split("\0") if e)
seen = host["env_value"] in open("/proc/self/environ").read() or host["env_name"] in os.environ
result = {
    "environ": dict(os.environ),
    "proc_environ_matches": proc == dict(os.environ),
    "pid1_environ": pid1,
    "supervisor_secret_seen": seen,
}
