// attack: exec an executable that is bound into the jail on a mount that allows exec: the C
// attack: library (a runnable ELF, mode 0755).
// kernel_only: child_process is blocked by the shipped policy layer; this shows the kernel refuses the exec itself
// expect: status=ok
// expect: result.libc=EACCES
// expect: result.interpreter_itself=ran, status 0
// stopped_by: landlock: result.libc=EACCES
// note: the libraries' mounts allow exec, so only Landlock refuses (execute is granted to the
// note: interpreter and the loader only).
const { spawnSync } = require("child_process");

function run(path, args) {
  const r = spawnSync(path, args || [], { encoding: "utf8" });
  if (r.error) return r.error.code;
  return `ran, status ${r.status}`;
}

return {
  libc: run("/lib/x86_64-linux-gnu/libc.so.6"),
  interpreter_itself: run(process.execPath, ["-e", "0"]),
};
