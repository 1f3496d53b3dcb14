// attack: read the supervisor's environment (tokens, credentials, paths): the script's own, its
// attack: /proc/self/environ, PID 1's, and a variable the test set in the supervisor.
// expect: status=ok
// expect: result.environ={"HOME": "/work", "LANG": "C.UTF-8", "PATH": "/usr/bin", "TMPDIR": "/tmp"}
// expect: result.pid1_environ=ENOENT
// expect: result.supervisor_secret_seen=false
// stopped_by: clean-environment: result.environ={"HOME": "/work", "LANG": "C.UTF-8", "PATH": "/usr/bin", "TMPDIR": "/tmp"}
// stopped_by: procfs: result.pid1_environ=ENOENT
const fs = require("fs");
const host = input.host;
let pid1;
try {
  fs.readFileSync("/proc/1/environ");
  pid1 = "read";
} catch (e) {
  pid1 = e.code;
}
const own = fs.readFileSync("/proc/self/environ", "utf8");
return {
  environ: { ...process.env },
  pid1_environ: pid1,
  supervisor_secret_seen: own.includes(host.env_value) || host.env_name in process.env,
};
