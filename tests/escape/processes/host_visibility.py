# attack: find and signal host processes: list /proc, signal the supervisor and a host process by
# attack: their host pids, look at PID 1, and read who its parent is.
# expect: status=ok
# expect: result.visible_pids=[2]
# expect: result.own_pid=2
# expect: result.parent=1
# expect: result.signal_host_process=ESRCH
# expect: result.signal_supervisor=ESRCH
# expect: result.host_process_in_proc=ENOENT
# expect: result.signal_pid1=EPERM
# stopped_by: pid-namespace: result.signal_host_process=ESRCH
# stopped_by: procfs: result.visible_pids=[2]
# stopped_by: unprivileged-uid: result.signal_pid1=EPERM
# note: the script is PID 2 of its own PID namespace, under jail-init; jail-init runs as the
# note: jail's uid 0 (another uid than the script's) and is outside the script's Landlock domain,
# note: whose signal scope refuses it too. The suite checks the host process is still alive.
import errno, os, signal

host = input["host"]


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


result = {
    "visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "own_pid": os.getpid(),
    "parent": os.getppid(),
    "signal_host_process": attempt(lambda: os.kill(host["sleeper_pid"], signal.SIGKILL)),
    "signal_supervisor": attempt(lambda: os.kill(host["supervisor_pid"], signal.SIGTERM)),
    "host_process_in_proc": attempt(lambda: os.stat("/proc/%d" % host["sleeper_pid"])),
    "signal_pid1": attempt(lambda: os.kill(1, signal.SIGTERM)),
}
