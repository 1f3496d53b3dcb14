// attack: the runtime's own doors to privileged syscalls: take uid/gid 0, set supplementary groups,
// attack: raise its scheduling priority, and change its umask and rlimits (allowed and harmless).
// expect: status=security_violation
// expect: result.setuid=EPERM
// expect: result.setgid=EPERM
// expect: result.setgroups=EPERM
// expect: result.set_priority=EACCES
// expect: result.lower_priority=ok
// expect: result.uid=1000
// stopped_by: seccomp: violation=setuid
// stopped_by: seccomp: violation=setgid
// stopped_by: seccomp: violation=setgroups
// stopped_by: unprivileged-uid: result.set_priority=EACCES
// note: setpriority is allowed (os.setPriority on the script's own process): the kernel refuses a
// note: higher priority to a process without CAP_SYS_NICE whose RLIMIT_NICE is 0 (EACCES), and
// note: lets it lower its own.
// note: the syscalls category is mostly Python with ctypes; JavaScript has no raw syscall API, and
// note: these process APIs are its way into the same calls. io_uring.js is the other JavaScript case.
const os = require("os");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return (e.info && e.info.code) || e.code || String(e);
  }
}

return {
  setuid: attempt(() => process.setuid(0)),
  setgid: attempt(() => process.setgid(0)),
  setgroups: attempt(() => process.setgroups([0])),
  set_priority: attempt(() => os.setPriority(0, -20)),
  lower_priority: attempt(() => os.setPriority(0, 10)),
  uid: process.getuid(),
};
