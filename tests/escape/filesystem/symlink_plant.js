// attack: plant symlinks in scratch pointing at host secrets, at the host's canary, at PID 1's
// attack: root and at the supervisor's /proc entry, then read, list and write through them
// attack: (Judge0 CVE-2024-28185).
// expect: status=ok
// expect: result.made=["ok","ok","ok","ok","ok"]
// expect: result.read_shadow=ENOENT
// expect: result.read_canary=ENOENT
// expect: result.list_pid1_root=ENOENT
// expect: result.list_supervisor=ENOENT
// expect: result.list_relative=EACCES
// expect: result.write_relative=EROFS
// stopped_by: mount-namespace: result.read_shadow=ENOENT
// stopped_by: mount-namespace: result.read_canary=ENOENT
// stopped_by: procfs: result.list_pid1_root=ENOENT
// stopped_by: landlock: result.list_relative=EACCES
// stopped_by: read-only-mount: result.write_relative=EROFS
// note: see symlink_plant.py: a link opens exactly what its path would, and nothing outside the
// note: jail follows anything in scratch.
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

const made = [
  attempt(() => fs.symlinkSync("/etc/shadow", "/work/shadow")),
  attempt(() => fs.symlinkSync(host.canary_secret, "/tmp/canary")),
  attempt(() => fs.symlinkSync("/proc/1/root", "/work/root1")),
  attempt(() => fs.symlinkSync(`/proc/${host.supervisor_pid}/root`, "/work/sup")),
  attempt(() => fs.symlinkSync("../../../../etc", "/work/etc")),
];
return {
  made,
  read_shadow: attempt(() => fs.readFileSync("/work/shadow")),
  read_canary: attempt(() => fs.readFileSync("/tmp/canary")),
  list_pid1_root: attempt(() => fs.readdirSync("/work/root1")),
  list_supervisor: attempt(() => fs.readdirSync("/work/sup")),
  list_relative: attempt(() => fs.readdirSync("/work/etc")),
  write_relative: attempt(() => fs.writeFileSync("/work/etc/passwd", "x")),
};
