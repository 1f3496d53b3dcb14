// attack: make huge files for whoever copies or scans scratch: truncate a file to 1 TiB, write a
// attack: byte at 1 TiB, and leave a 15 MiB sparse file that takes no space.
// expect: status=ok
// expect: result.truncate_1tib=EFBIG
// expect: result.write_at_1tib=EFBIG
// expect: result.sparse_15mib=ok
// expect: result.sparse_size=15728640
// expect: result.sparse_blocks=0
// expect: wall_ms<3000
// stopped_by: rlimit: result.truncate_1tib=EFBIG
// note: Node ignores SIGXFSZ like CPython, so RLIMIT_FSIZE shows as EFBIG.
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
  truncate_1tib: attempt(() => {
    fs.writeFileSync("/work/huge", "");
    fs.truncateSync("/work/huge", 2 ** 40);
  }),
  write_at_1tib: attempt(() => {
    const fd = fs.openSync("/tmp/huge", "w");
    fs.writeSync(fd, "x", 2 ** 40);
  }),
  sparse_15mib: attempt(() => {
    fs.writeFileSync("/work/sparse", "");
    fs.truncateSync("/work/sparse", 15 * 2 ** 20);
  }),
  sparse_size: fs.statSync("/work/sparse").size,
  sparse_blocks: fs.statSync("/work/sparse").blocks,
};
