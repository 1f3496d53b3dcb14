// attack: take the host's CPUs: start eight worker threads, all spinning.
// kernel_only: worker_threads is blocked by the shipped policy layer; the CPU limit is the point
// limits: cpu_time_ms=300
// expect: status=cpu_limit
// stopped_by: cgroup-cpu: status=cpu_limit
const { Worker } = require("worker_threads");
for (let i = 0; i < 8; i++) new Worker("for (;;) {}", { eval: true });
for (;;) {}
