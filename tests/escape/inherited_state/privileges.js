// attack: find privileges to use: capabilities in any set, supplementary groups, no_new_privs off;
// attack: then take uid 0.
// expect: status=security_violation
// expect: result.ids=[1000, 1000, 1000, 1000]
// expect: result.caps=["0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"]
// expect: result.no_new_privs=1
// expect: result.seccomp_mode=2
// expect: result.setuid_0=EPERM
// stopped_by: seccomp: violation=setuid
const fs = require("fs");
const status = Object.fromEntries(
  fs.readFileSync("/proc/self/status", "utf8").split("\n").filter((l) => l.includes(":")).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }),
);
let setuid;
try {
  process.setuid(0);
  setuid = "ok";
} catch (e) {
  setuid = e.code;
}
return {
  ids: [process.getuid(), process.geteuid(), process.getgid(), process.getegid()],
  caps: ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map((k) => status[k]),
  no_new_privs: Number(status.NoNewPrivs),
  seccomp_mode: Number(status.Seccomp),
  setuid_0: setuid,
};
