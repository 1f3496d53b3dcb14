// attack: crash or stall the supervisor's JSON parser: write a result 200,000 arrays deep straight
// attack: to the result descriptor, and exit 0.
// expect: status=runtime_error
// expect: error.type=ResultError
// expect: result=null
// expect: wall_ms<3000
// stopped_by: mount-namespace: wall_ms<3000
const fs = require("fs");
const depth = 200000;
fs.writeSync(4, '{"ok": true, "result": ' + "[".repeat(depth) + "]".repeat(depth) + ', "violations": []}');
fs.closeSync(4);
process.exit(0);
