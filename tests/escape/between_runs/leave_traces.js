// attack: leave things for the next run to find: files in /tmp and /work (hidden, deep), a
// attack: changed environment, a global left on the process, and 32 MiB of memory filled with a
// attack: marker.
// expect: status=ok
// expect: result=left
// stopped_by: mount-namespace: result=left
const fs = require("fs");
const MARK = "jaild-between-runs-marker-7f3a";
fs.mkdirSync("/work/.hidden/deep/er", { recursive: true });
for (const p of ["/tmp/marker", "/work/marker", "/work/.hidden/deep/er/marker"]) fs.writeFileSync(p, MARK);
process.env.JAILD_MARKER = MARK;
globalThis.jaildMarker = MARK;
globalThis.jaildMemory = Buffer.alloc(32 << 20, MARK);
return "left";
