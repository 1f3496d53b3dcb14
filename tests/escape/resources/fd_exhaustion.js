// attack: exhaust descriptors (the host's file table): open /dev/null until the kernel refuses.
// expect: status=ok
// expect: result.stopped_by=EMFILE
// expect: result.within_limit=true
// stopped_by: rlimit: result.stopped_by=EMFILE
const fs = require("fs");
const fds = [];
let err = "no limit";
try {
  for (;;) fds.push(fs.openSync("/dev/null", "r"));
} catch (e) {
  err = e.code;
}
return { stopped_by: err, within_limit: fds.length <= 64 };
