// attack: thread bomb (Node's way to multiply tasks): start workers forever.
// kernel_only: worker_threads is blocked by the shipped policy layer; the pids cgroup is the point
// limits: pids=16, wall_time_ms=4000
// expect: status=pids_limit
// expect: pids_peak<17
// stopped_by: cgroup-pids: status=pids_limit
// note: threads are tasks of the pids controller. The tighter limit (16) is reached before Node
// note: runs out of descriptors (64) with about 12 workers.
const { Worker } = require("worker_threads");
const workers = [];
for (;;) workers.push(new Worker("setInterval(() => {}, 1000)", { eval: true }));
