# attack: refuse to stop: ignore SIGTERM, SIGINT and SIGHUP in the script and in a forked child,
# attack: and sleep past the wall time.
# alone: the process-table check must see only this run's processes
# limits: wall_time_ms=1000
# expect: status=timeout
# expect: wall_ms<3000
# stopped_by: wall-time: status=timeout
# note: the supervisor does not ask: at the wall time it kills jail-init (SIGKILL through its pidfd)
# note: and every process of the cgroup.
import os, signal, time

for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
if os.fork() == 0:
    while True:
        time.sleep(1)
while True:
    time.sleep(1)
