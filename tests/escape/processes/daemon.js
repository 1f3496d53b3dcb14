// attack: outlive the run: a detached child process (its own session) that ignores SIGTERM and
// attack: SIGHUP and keeps a timer, unref'd so the script returns at once.
// kernel_only: child_process is blocked by the shipped policy layer; the kernel's teardown is the point
// alone: the process-table check must see only this run's processes
// expect: status=ok
// expect: result.spawned=true
// expect: wall_ms<4000
// stopped_by: pid-namespace: wall_ms<4000
const { spawn } = require("child_process");
const child = spawn(
  process.execPath,
  ["-e", "process.on('SIGTERM', () => {}); process.on('SIGHUP', () => {}); setInterval(() => {}, 100);"],
  { detached: true, stdio: "ignore" },
);
await new Promise((resolve) => child.once("spawn", resolve));
child.unref();
return { spawned: child.pid > 0 };
