// attack: hide a denied call by forging the runner's result: make a denied call, write a clean
// attack: "ok" result with no violations straight to the result descriptor, and exit 0.
// expect: status=security_violation
// expect: result=all clean
// expect: exit_code=0
// stopped_by: seccomp: violation=setuid
// note: process.setuid(0) asks for a syscall the node policy denies; the status comes from the
// note: supervisor's listener, not from what the script writes on fd 4.
const fs = require("fs");
try {
  process.setuid(0);
} catch {}
fs.writeSync(4, '{"ok": true, "result": "all clean", "violations": []}');
fs.closeSync(4);
process.exit(0);
