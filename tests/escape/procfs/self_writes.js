// attack: write the process's own /proc files that the kernel lets a process change about itself:
// attack: oom_score_adj, its LSM label, its uid_map and setgroups, its memory, its name, coredump
// attack: filter, timer slack.
// expect: status=ok
// expect: result.oom_score_adj=EACCES
// expect: result.attr_current=EACCES
// expect: result.uid_map=EACCES
// expect: result.setgroups=EACCES
// expect: result.mem=EACCES
// expect: result.comm=EACCES
// expect: result.coredump_filter=EACCES
// expect: result.timerslack_ns=EACCES
// expect: result.oom_score_adj_value=0
// stopped_by: landlock: result.oom_score_adj=EACCES
// stopped_by: landlock: result.attr_current=EACCES
// stopped_by: landlock: result.comm=EACCES
const fs = require("fs");

function attempt(path, data) {
  try {
    const fd = fs.openSync(path, fs.constants.O_WRONLY);
    fs.writeSync(fd, data);
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

return {
  oom_score_adj: attempt("/proc/self/oom_score_adj", "-1000"),
  attr_current: attempt("/proc/self/attr/current", "unconfined"),
  uid_map: attempt("/proc/self/uid_map", "0 0 1"),
  setgroups: attempt("/proc/self/setgroups", "allow"),
  mem: attempt("/proc/self/mem", "x"),
  comm: attempt("/proc/self/comm", "systemd"),
  coredump_filter: attempt("/proc/self/coredump_filter", "0xff"),
  timerslack_ns: attempt("/proc/self/timerslack_ns", "1"),
  oom_score_adj_value: Number(fs.readFileSync("/proc/self/oom_score_adj", "utf8")),
};
