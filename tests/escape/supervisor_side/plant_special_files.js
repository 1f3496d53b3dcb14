// attack: plant special files in scratch for whoever reads, cleans up or writes there after the
// attack: run: symlinks to host files, a unix socket bound at a path, then end at once.
// kernel_only: the net module is blocked by the shipped policy layer; the kernel's refusal of bind is the point
// expect: status=security_violation
// expect: result.symlink_to_shadow=ok
// expect: result.symlink_to_canary=ok
// expect: result.unix_socket_bound=EPERM
// expect: result.planted=["out","regular","result.json"]
// expect: wall_ms<3000
// stopped_by: mount-namespace: result.planted=["out","regular","result.json"]
// stopped_by: seccomp: violation=bind
// note: Node has no mkfifo; the Python case also plants FIFOs and a device node. See it for why
// note: planted symlinks reach nothing: nothing of jaild follows anything in scratch.
const fs = require("fs");
const net = require("net");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

fs.writeFileSync("/work/regular", "x");
const bound = await new Promise((resolve) => {
  const server = net.createServer();
  server.on("error", (e) => resolve(e.code));
  server.listen("/work/sock", () => {
    server.close();
    resolve("listening");
  });
});
return {
  symlink_to_shadow: attempt(() => fs.symlinkSync("/etc/shadow", "/work/result.json")),
  symlink_to_canary: attempt(() => fs.symlinkSync(input.host.canary_public, "/tmp/out")),
  unix_socket_bound: bound,
  planted: [...fs.readdirSync("/work"), ...fs.readdirSync("/tmp")].sort(),
};
