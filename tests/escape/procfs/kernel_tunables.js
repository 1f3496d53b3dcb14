// attack: take over the host through its tunables: core_pattern, modprobe, binfmt_misc register,
// attack: sysrq-trigger, uevent_helper, and the host name.
// expect: status=ok
// expect: result.write_core_pattern=ENOENT
// expect: result.write_modprobe=ENOENT
// expect: result.write_binfmt_register=ENOENT
// expect: result.write_sysrq_trigger=ENOENT
// expect: result.write_uevent_helper=ENOENT
// expect: result.write_hostname=ENOENT
// expect: result.proc_sys=ENOENT
// expect: result.sys=ENOENT
// stopped_by: procfs: result.write_core_pattern=ENOENT
// stopped_by: procfs: result.write_sysrq_trigger=ENOENT
// stopped_by: mount-namespace: result.write_uevent_helper=ENOENT
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}
const write = (path, data) => () => fs.writeFileSync(path, data);

return {
  write_core_pattern: attempt(write("/proc/sys/kernel/core_pattern", "|/work/payload %p")),
  write_modprobe: attempt(write("/proc/sys/kernel/modprobe", "/work/payload")),
  write_binfmt_register: attempt(write("/proc/sys/fs/binfmt_misc/register", ":x:E::x::/work/payload:")),
  write_sysrq_trigger: attempt(write("/proc/sysrq-trigger", "b")),
  write_uevent_helper: attempt(write("/sys/kernel/uevent_helper", "/work/payload")),
  write_hostname: attempt(write("/proc/sys/kernel/hostname", "pwned")),
  proc_sys: attempt(() => fs.readdirSync("/proc/sys")),
  sys: attempt(() => fs.readdirSync("/sys")),
};
