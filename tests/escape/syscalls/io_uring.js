// attack: io_uring through the runtime: libuv uses io_uring for file operations and epoll batching
// attack: when the kernel offers it, which would take the script's file I/O out of seccomp's
// attack: sight. Do plenty of asynchronous file I/O and see that no ring was ever set up.
// expect: status=ok
// expect: result.bytes=1048576
// expect: no_violation=io_uring_enter
// expect: no_violation=io_uring_register
// stopped_by: seccomp: quiet_violation=io_uring_setup
// note: the node policy answers io_uring_setup with ENOSYS (quietly: it is libuv's routine probe),
// note: so libuv falls back to epoll and its thread pool; JavaScript has no way to call io_uring
// note: itself. The Python case calls the syscalls directly.
const fsp = require("fs/promises");
const chunk = Buffer.alloc(64 * 1024, 7);
await Promise.all(Array.from({ length: 16 }, (_, i) => fsp.writeFile(`/tmp/f${i}`, chunk)));
const read = await Promise.all(Array.from({ length: 16 }, (_, i) => fsp.readFile(`/tmp/f${i}`)));
return { bytes: read.reduce((n, b) => n + b.length, 0) };
