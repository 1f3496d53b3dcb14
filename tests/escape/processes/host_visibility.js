// attack: find and signal host processes: list /proc, signal the supervisor and a host process by
// attack: their host pids, look at PID 1.
// expect: status=ok
// expect: result.visible_pids=[2]
// expect: result.own_pid=2
// expect: result.parent=1
// expect: result.signal_host_process=ESRCH
// expect: result.signal_supervisor=ESRCH
// expect: result.host_process_in_proc=ENOENT
// expect: result.signal_pid1=EPERM
// stopped_by: pid-namespace: result.signal_host_process=ESRCH
// stopped_by: procfs: result.visible_pids=[2]
// stopped_by: unprivileged-uid: result.signal_pid1=EPERM
const fs = require("fs");
const host = input.host;

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

return {
  visible_pids: fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).sort((a, b) => a - b),
  own_pid: process.pid,
  parent: process.ppid,
  signal_host_process: attempt(() => process.kill(host.sleeper_pid, "SIGKILL")),
  signal_supervisor: attempt(() => process.kill(host.supervisor_pid, "SIGTERM")),
  host_process_in_proc: attempt(() => fs.statSync(`/proc/${host.sleeper_pid}`)),
  signal_pid1: attempt(() => process.kill(1, "SIGTERM")),
};
