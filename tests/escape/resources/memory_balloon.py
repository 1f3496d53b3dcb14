# attack: take the host's memory: allocate and touch 8 MiB blocks forever.
# limits: memory=64MiB
# expect: status=memory_limit
# expect: signal=SIGKILL
# stopped_by: cgroup-memory: status=memory_limit
# note: the memory cgroup (no swap) OOM-kills the script; the verdict comes from the cgroup's OOM
# note: kill count, never from the signal alone.
blocks = []
while True:
    blocks.append(b"\x01" * (8 << 20))
