// attack: leave files with hostile names and unreadable directories for whoever lists or removes
// attack: scratch: newlines, terminal escapes, invalid UTF-8, leading dashes, shell syntax, 255-byte
// attack: names, then chmod 000 on directories and on /work itself.
// expect: status=ok
// expect: result.created=11
// expect: result.name_too_long=ENAMETOOLONG
// expect: result.locked_dir_listing=EACCES
// expect: result.work_locked=true
// expect: wall_ms<3000
// stopped_by: mount-namespace: wall_ms<3000
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

const names = [
  "new\nline", "\x1b[2J\x1b[31mred", Buffer.from("bad-utf8-\xff\xfe", "latin1"), "-rf", " ", "...",
  "x".repeat(255), "$(reboot)", "`id`", "*", "a;b|c&d",
];
let created = 0;
for (const n of names) {
  const path = Buffer.isBuffer(n) ? Buffer.concat([Buffer.from("/work/"), n]) : `/work/${n}`;
  fs.writeFileSync(path, "x");
  created++;
}
fs.mkdirSync("/work/locked");
fs.writeFileSync("/work/locked/inside", "x");
fs.chmodSync("/work/locked", 0);
fs.mkdirSync("/tmp/locked", 0);
const result = {
  created,
  name_too_long: attempt(() => fs.writeFileSync("/work/" + "x".repeat(256), "x")),
  locked_dir_listing: attempt(() => fs.readdirSync("/work/locked")),
};
fs.chmodSync("/work", 0);
result.work_locked = attempt(() => fs.readdirSync("/work")) === "EACCES";
return result;
