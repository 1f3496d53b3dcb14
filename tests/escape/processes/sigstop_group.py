# attack: freeze itself so nothing can end it: try SIGSTOP on PID 1, then SIGSTOP its own process
# attack: group (the script and a forked child) and stay stopped past the wall time.
# alone: the process-table check must see only this run's processes
# limits: wall_time_ms=1000
# expect: status=timeout
# expect: stdout~"pid1: EPERM"
# expect: wall_ms<3000
# stopped_by: wall-time: status=timeout
# note: SIGKILL ends stopped processes; the wall clock is the supervisor's, not the script's.
import errno, os, signal, time

try:
    os.kill(1, signal.SIGSTOP)
    print("pid1: stopped", flush=True)
except OSError as e:
    print("pid1:", errno.errorcode[e.errno], flush=True)
if os.fork() == 0:
    while True:
        time.sleep(1)
os.killpg(0, signal.SIGSTOP)
result = "woke up"
