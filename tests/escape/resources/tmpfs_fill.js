// attack: fill the disk and the inode table: write 4 MiB files into /work until it refuses, then
// attack: make directories in /tmp until it refuses.
// expect: status=ok
// expect: result.bytes_stopped_by=ENOSPC
// expect: result.bytes_within_limit=true
// expect: result.inodes_stopped_by=ENOSPC
// expect: result.inodes_within_limit=true
// stopped_by: tmpfs-limit: result.bytes_stopped_by=ENOSPC
// stopped_by: tmpfs-limit: result.inodes_stopped_by=ENOSPC
const fs = require("fs");
const chunk = Buffer.alloc(1 << 20, 120);
let written = 0;
let bytesErr = "no limit";
try {
  for (let i = 0; i < 1000; i++) {
    const fd = fs.openSync(`/work/f${i}`, "w");
    for (let j = 0; j < 4; j++) written += fs.writeSync(fd, chunk);
    fs.closeSync(fd);
  }
} catch (e) {
  bytesErr = e.code;
}
let dirs = 0;
let inodesErr = "no limit";
try {
  for (;;) {
    fs.mkdirSync(`/tmp/d${dirs}`);
    dirs++;
  }
} catch (e) {
  inodesErr = e.code;
}
return {
  bytes_stopped_by: bytesErr,
  bytes_within_limit: written <= 16 << 20,
  inodes_stopped_by: inodesErr,
  inodes_within_limit: dirs < 1024,
};
