# attack: outlive the run: the classic daemon (fork, setsid, fork again), ignoring SIGHUP and
# attack: SIGTERM, writing to a file now and then, while the main script returns at once.
# alone: the process-table check must see only this run's processes
# expect: status=ok
# expect: result=parent done
# expect: wall_ms<3000
# stopped_by: pid-namespace: wall_ms<3000
# note: when the script's main process ends, jail-init (PID 1) exits and the kernel kills
# note: everything left in its PID namespace; the cgroup is killed as well. After the run the suite
# note: waits at most 1.5 s for every process of the jail's host uids under it to be gone.
import os, signal, time

child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            with open("/tmp/alive", "a") as f:
                f.write("x")
            time.sleep(0.1)
    os._exit(0)
os.waitpid(child, 0)
result = "parent done"
