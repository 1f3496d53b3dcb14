// attack: rename across the read-only tree: move the runner or the interpreter into scratch,
// attack: move a scratch file over the runner, rename inside the read-only tree, and move files
// attack: between the two scratch mounts.
// expect: status=ok
// expect: result.runner_to_work=EXDEV
// expect: result.node_to_tmp=EXDEV
// expect: result.work_over_runner=EXDEV
// expect: result.runner_in_place=EROFS
// expect: result.work_to_tmp=EXDEV
// expect: result.within_work=ok
// stopped_by: mount-boundary: result.runner_to_work=EXDEV
// stopped_by: mount-boundary: result.work_over_runner=EXDEV
// stopped_by: read-only-mount: result.runner_in_place=EROFS
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

fs.writeFileSync("/work/payload.cjs", "process.exit(0)\n");
fs.mkdirSync("/work/sub");
return {
  runner_to_work: attempt(() => fs.renameSync("/jaild/runner.cjs", "/work/runner.cjs")),
  node_to_tmp: attempt(() => fs.renameSync(process.execPath, "/tmp/node")),
  work_over_runner: attempt(() => fs.renameSync("/work/payload.cjs", "/jaild/runner.cjs")),
  runner_in_place: attempt(() => fs.renameSync("/jaild/runner.cjs", "/jaild/old.cjs")),
  work_to_tmp: attempt(() => fs.renameSync("/work/payload.cjs", "/tmp/payload.cjs")),
  within_work: attempt(() => fs.renameSync("/work/payload.cjs", "/work/sub/payload.cjs")),
};
