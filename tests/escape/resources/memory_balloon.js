// attack: take the host's memory: allocate and fill 16 MiB buffers forever (outside V8's heap,
// attack: which has a limit of its own).
// limits: memory=128MiB
// expect: status=memory_limit
// expect: signal=SIGKILL
// stopped_by: cgroup-memory: status=memory_limit
const blocks = [];
for (;;) blocks.push(Buffer.alloc(16 << 20, 1));
