// attack: truncate files of the read-only tree (the interpreter, the C library, the runner) by
// attack: path and through open(O_TRUNC), through a /proc/self/fd reopen of a read-only
// attack: descriptor, and write into a read-only device.
// expect: status=ok
// expect: result.truncate_node=EACCES
// expect: result.truncate_libc=EACCES
// expect: result.open_trunc_runner=EROFS
// expect: result.reopen_fd_for_write=EROFS
// expect: result.write_dev_urandom=EACCES
// expect: result.truncate_scratch=ok
// stopped_by: unprivileged-uid: result.truncate_node=EACCES
// stopped_by: read-only-mount: result.open_trunc_runner=EROFS
// stopped_by: read-only-mount: result.reopen_fd_for_write=EROFS
// stopped_by: landlock: result.write_dev_urandom=EACCES
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
  truncate_node: attempt(() => fs.truncateSync(process.execPath, 0)),
  truncate_libc: attempt(() => fs.truncateSync("/lib/x86_64-linux-gnu/libc.so.6", 0)),
  open_trunc_runner: attempt(() => fs.openSync("/jaild/runner.cjs", "w")),
  reopen_fd_for_write: attempt(() => {
    const fd = fs.openSync("/jaild/runner.cjs", "r");
    fs.openSync(`/proc/self/fd/${fd}`, "w");
  }),
  write_dev_urandom: attempt(() => fs.openSync("/dev/urandom", "a")),
  truncate_scratch: attempt(() => {
    fs.writeFileSync("/tmp/mine", "x".repeat(100));
    fs.truncateSync("/tmp/mine", 1);
  }),
};
