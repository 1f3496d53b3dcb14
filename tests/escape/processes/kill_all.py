# attack: kill(-1, SIGKILL): every process the caller may signal, which on the host would be every
# attack: process of the same uid; a sibling is forked first to see what it reaches.
# expect: status=ok
# expect: result.sibling_signal=9
# expect: result.survived=true
# stopped_by: pid-namespace: result.sibling_signal=9
# note: kill(-1) reaches only the jail's own PID namespace (PID 1 and the caller excepted); the
# note: suite checks the host process it placed is still alive.
import os, signal, time

sibling = os.fork()
if sibling == 0:
    time.sleep(30)
    os._exit(0)
os.kill(-1, signal.SIGKILL)
_, status = os.waitpid(sibling, 0)
result = {"sibling_signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, "survived": True}
