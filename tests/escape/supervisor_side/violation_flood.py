# attack: flood the supervisor with denied syscalls that each read differently in the report: ioctl
# attack: on stdin with a new request number every call (fcntl is not a blocked module), for the
# attack: whole wall time. Every denial is a notification the supervisor must answer and a line it
# attack: records, outside the jail's cgroup.
# limits: wall_time_ms=2000
# expect: status=security_violation
# expect: report_bytes<262144
# expect: wall_ms<3000
# stopped_by: seccomp: violation_prefix=ioctl(
# note: the report itemizes at most 64 distinct denials; the rest of the ioctl flood is counted
# note: in one "ioctl(…)" entry, and the run is stopped after 1000 loud denials.
# note: the JavaScript case floods one detail (process.setuid), which merges into a single counted
# note: entry: Node has no way to vary a denied call's argument.
import fcntl

request = 0x10000
while True:
    try:
        fcntl.ioctl(0, request, 0)
    except OSError:
        pass
    request += 1
