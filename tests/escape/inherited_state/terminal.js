// attack: find a controlling terminal to inject into or read from: open /dev/tty and /dev/ptmx,
// attack: check stdio for terminals, read the tty of its own process.
// expect: status=ok
// expect: result.dev_tty=ENOENT
// expect: result.isatty=[false, false, false]
// expect: result.tty_nr=0
// expect: result.ptmx=ENOENT
// stopped_by: session: result.tty_nr=0
// stopped_by: mount-namespace: result.dev_tty=ENOENT
const fs = require("fs");
const tty = require("tty");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

const stat = fs.readFileSync("/proc/self/stat", "utf8");
const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
return {
  dev_tty: attempt(() => fs.openSync("/dev/tty", "r+")),
  isatty: [0, 1, 2].map((fd) => tty.isatty(fd)),
  tty_nr: Number(fields[4]),
  ptmx: attempt(() => fs.openSync("/dev/ptmx", "r+")),
};
