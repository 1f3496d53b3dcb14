// attack: write outside the scratch mounts: overwrite and append to the interpreter, overwrite
// attack: or delete the runner, create files at the root, in /dev and /etc, make the interpreter
// attack: setuid, touch the runner, write the host's canary.
// expect: status=ok
// expect: result.node_overwrite=EROFS
// expect: result.node_append=EACCES
// expect: result.runner_overwrite=EROFS
// expect: result.runner_unlink=EROFS
// expect: result.runner_utime=EROFS
// expect: result.root_new_file=EROFS
// expect: result.mkdir_etc=EROFS
// expect: result.dev_new_file=EROFS
// expect: result.chmod_setuid_node=EROFS
// expect: result.host_canary=ENOENT
// expect: result.scratch_still_writable=ok
// stopped_by: read-only-mount: result.node_overwrite=EROFS
// stopped_by: read-only-mount: result.root_new_file=EROFS
// stopped_by: unprivileged-uid: result.node_append=EACCES
// stopped_by: mount-namespace: result.host_canary=ENOENT
const fs = require("fs");
const host = input.host;
const node = process.execPath;

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

return {
  node_overwrite: attempt(() => fs.writeFileSync(node, "#!/bin/sh\nid\n")),
  node_append: attempt(() => fs.appendFileSync(node, "x")),
  runner_overwrite: attempt(() => fs.writeFileSync("/jaild/runner.cjs", "1")),
  runner_unlink: attempt(() => fs.unlinkSync("/jaild/runner.cjs")),
  runner_utime: attempt(() => fs.utimesSync("/jaild/runner.cjs", 0, 0)),
  root_new_file: attempt(() => fs.writeFileSync("/evil", "x", { flag: "wx" })),
  mkdir_etc: attempt(() => fs.mkdirSync("/etc/jaild-escape")),
  dev_new_file: attempt(() => fs.writeFileSync("/dev/evil", "x", { flag: "wx" })),
  chmod_setuid_node: attempt(() => fs.chmodSync(node, 0o4755)),
  host_canary: attempt(() => fs.writeFileSync(host.canary_public, "x")),
  scratch_still_writable: attempt(() => fs.writeFileSync("/work/fine.txt", "x")),
};
