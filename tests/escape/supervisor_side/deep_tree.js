// attack: leave a tree deeper than PATH_MAX for whoever walks or removes scratch: nest
// attack: directories with chdir until the filesystem refuses, and nest 255-byte names.
// expect: status=ok
// expect: result.stopped_by=ENOSPC
// expect: result.deeper_than_path_max=true
// expect: result.long_names_stopped_by=ENOSPC
// expect: wall_ms<4000
// stopped_by: tmpfs-limit: result.stopped_by=ENOSPC
const fs = require("fs");

function nest(root, name) {
  process.chdir(root);
  let depth = 0;
  try {
    for (;;) {
      fs.mkdirSync(name);
      process.chdir(name);
      depth++;
    }
  } catch (e) {
    return [depth, e.code || String(e)];
  }
}

const [depth, err] = nest("/work", "d".repeat(8));
const [longDepth, longErr] = nest("/tmp", "n".repeat(255));
process.chdir("/work");
return {
  stopped_by: err,
  deeper_than_path_max: depth * 9 > 4096 && longDepth * 256 > 4096,
  long_names_stopped_by: longErr,
};
