// attack: flood the supervisor with output: write 1 KiB lines to stderr forever.
// limits: stderr=64KiB
// expect: status=output_limit
// expect: stderr_truncated=true
// expect: wall_ms<3000
// stopped_by: output-cap: status=output_limit
const fs = require("fs");
const line = "x".repeat(1023) + "\n";
for (;;) fs.writeSync(2, line);
