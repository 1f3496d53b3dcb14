// attack: freeze itself so nothing can end it: try SIGSTOP on PID 1, then SIGSTOP its own process
// attack: group and stay stopped past the wall time.
// alone: the process-table check must see only this run's processes
// limits: wall_time_ms=1000
// expect: status=timeout
// expect: stdout~"pid1: EPERM"
// expect: wall_ms<3000
// stopped_by: wall-time: status=timeout
try {
  process.kill(1, "SIGSTOP");
  console.log("pid1: stopped");
} catch (e) {
  console.log("pid1:", e.code);
}
process.kill(0, "SIGSTOP");
return "woke up";
