// attack: walk out of the jail's root through /proc: /proc/self/root and its "..", PID 1's root and
// attack: cwd, every visible process's root, and the supervisor's root by its host pid.
// expect: status=ok
// expect: result.self_root_is_jail_root=true
// expect: result.dotdot_stays_in_jail=true
// expect: result.shadow_via_self_root=ENOENT
// expect: result.pid1_root=ENOENT
// expect: result.pid1_cwd=ENOENT
// expect: result.visible_pids=[2]
// expect: result.every_visible_root_is_jail_root=true
// expect: result.supervisor_root=ENOENT
// stopped_by: mount-namespace: result.self_root_is_jail_root=true
// stopped_by: procfs: result.pid1_root=ENOENT
// stopped_by: pid-namespace: result.supervisor_root=ENOENT
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}
const id = (p) => {
  const s = fs.statSync(p);
  return `${s.dev}:${s.ino}`;
};
const root = id("/");
const pids = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).sort((a, b) => a - b);
return {
  self_root_is_jail_root: id("/proc/self/root") === root,
  dotdot_stays_in_jail: id("/proc/self/root/../../../..") === root,
  shadow_via_self_root: attempt(() => fs.readFileSync("/proc/self/root/etc/shadow")),
  pid1_root: attempt(() => fs.readdirSync("/proc/1/root")),
  pid1_cwd: attempt(() => fs.readdirSync("/proc/1/cwd")),
  visible_pids: pids,
  every_visible_root_is_jail_root: pids.every((p) => id(`/proc/${p}/root`) === root),
  supervisor_root: attempt(() => fs.readdirSync(`/proc/${input.host.supervisor_pid}/root`)),
};
