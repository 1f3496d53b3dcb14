// attack: find what the previous run (leave_traces.js) left: its files, its environment, its
// attack: globals, and its memory's marker in fresh, uninitialised memory.
// after: leave_traces.js
// expect: status=ok
// expect: result.tmp=[]
// expect: result.work=[]
// expect: result.env_marker=false
// expect: result.global_marker=false
// expect: result.marker_in_fresh_memory=false
// stopped_by: mount-namespace: result.work=[]
// stopped_by: pid-namespace: result.global_marker=false
// note: Buffer.allocUnsafe hands out memory without clearing it: in a new process that is the
// note: kernel's zeroed pages (or Node's own start-up data), never the last run's.
const fs = require("fs");
const MARK = Buffer.from("jaild-between-runs-marker-7f3a");
const fresh = Buffer.allocUnsafe(64 << 20);
return {
  tmp: fs.readdirSync("/tmp"),
  work: fs.readdirSync("/work"),
  env_marker: "JAILD_MARKER" in process.env,
  global_marker: typeof globalThis.jaildMarker !== "undefined",
  marker_in_fresh_memory: fresh.includes(MARK),
};
