# attack: write the process's own /proc files that the kernel lets a process change about itself:
# attack: oom_score_adj (make the supervisor's side the OOM victim), its LSM label, its uid_map and
# attack: setgroups, its memory through /proc/self/mem, its name, coredump filter, timer slack.
# expect: status=ok
# expect: result.oom_score_adj=EACCES
# expect: result.attr_current=EACCES
# expect: result.uid_map=EACCES
# expect: result.setgroups=EACCES
# expect: result.mem=EACCES
# expect: result.comm=EACCES
# expect: result.coredump_filter=EACCES
# expect: result.timerslack_ns=EACCES
# expect: result.oom_score_adj_value=0
# stopped_by: landlock: result.oom_score_adj=EACCES
# stopped_by: landlock: result.attr_current=EACCES
# stopped_by: landlock: result.comm=EACCES
# note: these files belong to the script's own uid and most are writable by their owner; Landlock
# note: grants only reading under /proc, so opening them for writing fails.
import errno, os


def attempt(path, data):
    try:
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, data)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


result = {
    "oom_score_adj": attempt("/proc/self/oom_score_adj", b"-1000"),
    "attr_current": attempt("/proc/self/attr/current", b"unconfined"),
    "uid_map": attempt("/proc/self/uid_map", b"0 0 1"),
    "setgroups": attempt("/proc/self/setgroups", b"allow"),
    "mem": attempt("/proc/self/mem", b"x"),
    "comm": attempt("/proc/self/comm", b"systemd"),
    "coredump_filter": attempt("/proc/self/coredump_filter", b"0xff"),
    "timerslack_ns": attempt("/proc/self/timerslack_ns", b"1"),
    "oom_score_adj_value": int(open("/proc/self/oom_score_adj").read()),
}
