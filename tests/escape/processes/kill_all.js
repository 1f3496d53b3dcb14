// attack: kill(-1, SIGKILL): every process the caller may signal.
// expect: status=ok
// expect: result=ESRCH
// stopped_by: pid-namespace: result=ESRCH
// note: alone in its PID namespace (PID 1 excepted), the script has nobody to signal; the suite
// note: checks the host process it placed is still alive.
try {
  process.kill(-1, "SIGKILL");
  return "sent";
} catch (e) {
  return e.code;
}
