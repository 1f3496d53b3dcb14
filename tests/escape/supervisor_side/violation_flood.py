# attack: flood the supervisor with denied syscalls that each read differently in the report: ioctl
# attack: on stdin with a new request number every call (fcntl is not a blocked module), for the
# attack: whole wall time. Every denial is a notification the supervisor must answer and a line it
# attack: records, outside the jail's cgroup.
# limits: wall_time_ms=2000
# known_hole: the report is unbounded. answer_notifications (supervisor/src/run.rs) pushes one
# known_hole: Violation per denial and merge() keeps one entry per distinct detail; describe() puts
# known_hole: the ioctl request number in the detail, so a script with only the shipped python
# known_hole: profile produces ~80,000 entries a second: in 2 s about 160,000 entries, a 20 MB
# known_hole: report and a 2.6 MB `message`, ~75 MB of supervisor RSS, and the run ends ~0.6 s past
# known_hole: its wall time while the supervisor merges (debug build). With the profile's 5 s that
# known_hole: is a 50 MB report for every run, which the daemon also keeps in its history
# known_hole: database: the output caps are bypassed through the violations list. The supervisor
# known_hole: also spends about three times the jail's own CPU time answering, which no cgroup
# known_hole: limit counts. Fix: merge on insert and cap the distinct entries (say 64, then one
# known_hole: "and N more denials of M kinds" entry, counts kept exact), cap the message the same
# known_hole: way, and stop the run after a bounded number of loud denials (the verdict is
# known_hole: security_violation from the first one anyway).
# expect: status=security_violation
# expect: report_bytes<262144
# expect: wall_ms<3000
# stopped_by: seccomp: violation_prefix=ioctl(0x
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
