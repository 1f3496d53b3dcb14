// attack: refuse to stop: handle SIGTERM, SIGINT and SIGHUP by doing nothing and keep the event
// attack: loop alive past the wall time.
// alone: the process-table check must see only this run's processes
// limits: wall_time_ms=1000
// expect: status=timeout
// expect: wall_ms<3000
// stopped_by: wall-time: status=timeout
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, () => {});
await new Promise(() => setInterval(() => {}, 100));
