// attack: hard-link files of the read-only tree into scratch (the interpreter, the loader, the
// attack: runner) to get a writable name or change their link count, and link between the two
// attack: scratch mounts.
// expect: status=ok
// expect: result.node_into_work=EXDEV
// expect: result.loader_into_tmp=EXDEV
// expect: result.runner_into_work=EXDEV
// expect: result.runner_next_to_itself=EROFS
// expect: result.work_into_tmp=EXDEV
// expect: result.within_work=ok
// stopped_by: mount-boundary: result.node_into_work=EXDEV
// stopped_by: mount-boundary: result.runner_into_work=EXDEV
// stopped_by: read-only-mount: result.runner_next_to_itself=EROFS
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

fs.writeFileSync("/work/mine", "x");
return {
  node_into_work: attempt(() => fs.linkSync(process.execPath, "/work/node")),
  loader_into_tmp: attempt(() => fs.linkSync("/lib64/ld-linux-x86-64.so.2", "/tmp/ld.so")),
  runner_into_work: attempt(() => fs.linkSync("/jaild/runner.cjs", "/work/runner.cjs")),
  runner_next_to_itself: attempt(() => fs.linkSync("/jaild/runner.cjs", "/jaild/runner2.cjs")),
  work_into_tmp: attempt(() => fs.linkSync("/work/mine", "/tmp/mine")),
  within_work: attempt(() => fs.linkSync("/work/mine", "/work/mine2")),
};
