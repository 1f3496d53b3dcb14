# attack: fork bomb: every process forks forever.
# limits: pids=8, wall_time_ms=4000
# expect: status=pids_limit
# expect: pids_peak<9
# expect: wall_ms<3000
# stopped_by: cgroup-pids: status=pids_limit
# note: the pids controller refuses the ninth task; the supervisor sees the refusals in the cgroup's
# note: counter, stops the run and kills the cgroup.
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
