// attack: leave millions of files behind for whoever cleans up: create empty files and then hard
// attack: links until the filesystem refuses, in both scratch mounts.
// expect: status=ok
// expect: result.files_stopped_by=ENOSPC
// expect: result.links_stopped_by=ENOSPC
// expect: result.tmp_stopped_by=ENOSPC
// expect: result.within_inode_limit=true
// expect: wall_ms<4000
// stopped_by: tmpfs-limit: result.files_stopped_by=ENOSPC
// stopped_by: tmpfs-limit: result.links_stopped_by=ENOSPC
const fs = require("fs");

function fill(make, limit = 1000000) {
  let n = 0;
  try {
    for (; n < limit; n++) make(n);
    return [n, "no limit"];
  } catch (e) {
    return [n, e.code || String(e)];
  }
}

fs.mkdirSync("/work/f");
const [files, filesErr] = fill((i) => fs.closeSync(fs.openSync(`/work/f/${i}`, "w")));
fs.unlinkSync("/work/f/0");
fs.unlinkSync("/work/f/1");
fs.mkdirSync("/work/l");
const [links, linksErr] = fill((i) => fs.linkSync("/work/f/2", `/work/l/${i}`));
const [tmp, tmpErr] = fill((i) => fs.closeSync(fs.openSync(`/tmp/${i}`, "w")));
return {
  files_stopped_by: filesErr,
  links_stopped_by: linksErr,
  tmp_stopped_by: tmpErr,
  within_inode_limit: files < 1024 && links < 1024 && tmp < 1024,
};
