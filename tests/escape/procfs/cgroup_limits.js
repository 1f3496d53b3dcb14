// attack: raise its own limits: find its cgroup's files (memory.max, pids.max, cpu.max and their v1
// attack: names) and write them.
// expect: status=ok
// expect: result.own_cgroup_is_root=true
// expect: result.cgroupfs=ENOENT
// expect: result.write_memory_max=ENOENT
// expect: result.write_pids_max=ENOENT
// expect: result.write_v1_memory_limit=ENOENT
// stopped_by: cgroup-namespace: result.own_cgroup_is_root=true
// stopped_by: mount-namespace: result.write_memory_max=ENOENT
// note: the Python case also tries to mount a cgroup hierarchy and to raise hard rlimits.
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

const paths = fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n").map((l) => l.split(":").slice(2).join(":"));
return {
  own_cgroup_is_root: paths.every((p) => p === "/"),
  cgroupfs: attempt(() => fs.readdirSync("/sys/fs/cgroup")),
  write_memory_max: attempt(() => fs.writeFileSync("/sys/fs/cgroup/memory.max", "max")),
  write_pids_max: attempt(() => fs.writeFileSync("/sys/fs/cgroup/pids.max", "max")),
  write_v1_memory_limit: attempt(() => fs.writeFileSync("/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1")),
};
