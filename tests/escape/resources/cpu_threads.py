# attack: take the host's CPUs: fork six children and start threads, all spinning.
# limits: cpu_time_ms=300, pids=16
# expect: status=cpu_limit
# stopped_by: cgroup-cpu: status=cpu_limit
# note: the CPU time of every process of the cgroup counts; cpu_cores (1.0) caps the rate as well.
import os, threading


def spin():
    while True:
        pass


for _ in range(6):
    if os.fork() == 0:
        spin()
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
spin()
