// attack: overwrite the interpreter binary through /proc/self/exe (runc CVE-2019-5736): open it for
// attack: truncation, for read-write, reopen a read-only descriptor of it for writing, and PID 1's.
// expect: status=ok
// expect: result.exe_truncate=EROFS
// expect: result.exe_read_write=EACCES
// expect: result.exe_reopen_fd_write=EACCES
// expect: result.pid1_exe=ENOENT
// stopped_by: read-only-mount: result.exe_truncate=EROFS
// stopped_by: unprivileged-uid: result.exe_read_write=EACCES
// stopped_by: procfs: result.pid1_exe=ENOENT
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

return {
  exe_truncate: attempt(() => fs.openSync("/proc/self/exe", "w")),
  exe_read_write: attempt(() => fs.openSync("/proc/self/exe", "r+")),
  exe_reopen_fd_write: attempt(() => {
    const fd = fs.openSync("/proc/self/exe", "r");
    fs.openSync(`/proc/self/fd/${fd}`, "r+");
  }),
  pid1_exe: attempt(() => fs.openSync("/proc/1/exe", "r")),
};
