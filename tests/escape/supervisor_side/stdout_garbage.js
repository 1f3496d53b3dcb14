// attack: feed the supervisor's output capture bytes that are not text: invalid UTF-8, NUL bytes
// attack: and terminal escape sequences, on stdout and stderr.
// expect: status=ok
// expect: result=done
// expect: stdout~"\ufffd"
// expect: stderr~"\u001b]0;pwned\u0007"
// expect: wall_ms<3000
// stopped_by: mount-namespace: wall_ms<3000
const fs = require("fs");
const bytes = Buffer.alloc(256 * 64);
for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
fs.writeSync(1, Buffer.concat([bytes, Buffer.from([0xed, 0xa0, 0x80, 0x00, 0x0a])]));
fs.writeSync(2, Buffer.from("\x1b]0;pwned\x07\x1b[2J\x00\xff\n", "latin1"));
return "done";
