// attack: plant symlinks in scratch pointing at host secrets, at the host's canary, at PID 1's
// attack: root and at the supervisor's /proc entry (Judge0 CVE-2024-28185).
// expect: status=ok
// expect: result.work_to_shadow=EACCES
// expect: result.tmp_to_canary=EACCES
// expect: result.work_to_pid1_root=EACCES
// expect: result.work_to_supervisor=EACCES
// expect: result.relative=EACCES
// expect: result.planted=[]
// stopped_by: landlock: result.work_to_shadow=EACCES
// stopped_by: landlock: result.tmp_to_canary=EACCES
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
  work_to_shadow: attempt(() => fs.symlinkSync("/etc/shadow", "/work/shadow")),
  tmp_to_canary: attempt(() => fs.symlinkSync(host.canary_secret, "/tmp/canary")),
  work_to_pid1_root: attempt(() => fs.symlinkSync("/proc/1/root", "/work/root1")),
  work_to_supervisor: attempt(() => fs.symlinkSync(`/proc/${host.supervisor_pid}/root`, "/work/sup")),
  relative: attempt(() => fs.symlinkSync("../../../../etc", "/work/etc")),
  planted: [...fs.readdirSync("/work"), ...fs.readdirSync("/tmp")].sort(),
};
