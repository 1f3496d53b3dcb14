// attack: talk to a host daemon over an abstract unix socket (no file, so no filesystem view
// attack: hides it): connect to a stream listener the test opened on the host.
// kernel_only: the net module is blocked by the shipped policy layer; the kernel's refusal is the point
// expect: status=ok
// expect: result=ENOENT
// stopped_by: seccomp: quiet_violation=connect
// note: connect(2) is answered ENOENT for every socket, quietly (glibc's nscd probe makes that
// note: call); the listener is in another network namespace besides. The suite checks it received
// note: nothing.
const net = require("net");
return await new Promise((resolve) => {
  const s = net.connect({ path: "\0" + input.host.abstract_stream });
  s.on("connect", () => resolve("connected"));
  s.on("error", (e) => resolve(e.code));
});
