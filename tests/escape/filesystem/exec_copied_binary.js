// attack: run a program of its own: copy the interpreter into scratch and exec it (its first
// attack: 8 MiB: the whole 120 MiB binary is over the file size limit), write a "downloaded"
// attack: static ELF (exit(42)) into /tmp and exec it.
// kernel_only: child_process is blocked by the shipped policy layer; this shows the kernel refuses the exec itself
// expect: status=ok
// expect: result.full_copy=EFBIG
// expect: result.copied_node_work=EACCES
// expect: result.copied_node_tmp=EACCES
// expect: result.downloaded_elf=EACCES
// stopped_by: noexec-mount: result.copied_node_work=EACCES
// stopped_by: noexec-mount: result.downloaded_elf=EACCES
// stopped_by: rlimit: result.full_copy=EFBIG
// note: the exec is refused before the kernel reads the file, so a truncated copy of the
// note: interpreter is as good a test as a whole one.
const fs = require("fs");
const { spawnSync } = require("child_process");

const ELF = Buffer.from(
  "f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAEAAOAAB" +
    "AAAAAAAAAAEAAAAFAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAhAAAAAAAAACEAAAAAAAAAAAQ" +
    "AAAAAAAAuDwAAAC/KgAAAA8F",
  "base64",
);

function run(path) {
  const r = spawnSync(path, ["-e", "console.log('escaped')"], { encoding: "utf8" });
  if (r.error) return r.error.code;
  return `ran, status ${r.status}`;
}

let fullCopy;
try {
  fs.copyFileSync(process.execPath, "/work/full");
  fullCopy = "ok";
} catch (e) {
  fullCopy = e.code;
}
fs.rmSync("/work/full", { force: true });
const head = Buffer.alloc(8 << 20);
const fd = fs.openSync(process.execPath, "r");
fs.readSync(fd, head, 0, head.length, 0);
fs.writeFileSync("/work/node", head, { mode: 0o755 });
fs.writeFileSync("/tmp/node", head, { mode: 0o755 });
fs.writeFileSync("/tmp/downloaded", ELF, { mode: 0o755 });
return {
  full_copy: fullCopy,
  copied_node_work: run("/work/node"),
  copied_node_tmp: run("/tmp/node"),
  downloaded_elf: run("/tmp/downloaded"),
};
