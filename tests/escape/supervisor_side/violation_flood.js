// attack: flood the supervisor with denied syscalls for the whole wall time: process.setuid(0) in a
// attack: loop (glibc asks every thread of the runtime to make the call: one notification each).
// limits: wall_time_ms=2000
// expect: status=security_violation
// expect: report_bytes<262144
// expect: wall_ms<3000
// stopped_by: seccomp: violation=setuid
// note: one detail: the report keeps one entry with its count however many denials there are.
for (;;) {
  try {
    process.setuid(0);
  } catch {}
}
