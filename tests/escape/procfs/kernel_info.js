// attack: learn the kernel to attack it: kernel symbols and their addresses, the kernel log, the
// attack: kernel image and memory, loaded modules, the config, the command line, slab and
// attack: interrupt statistics, scheduler debug data.
// expect: status=ok
// expect: result.readable=[]
// expect: result.own_maps_readable=true
// stopped_by: procfs: result.readable=[]
const fs = require("fs");
const paths = ["/proc/kallsyms", "/proc/kmsg", "/proc/kcore", "/proc/modules", "/proc/config.gz",
  "/proc/cmdline", "/proc/version", "/proc/slabinfo", "/proc/interrupts", "/proc/iomem",
  "/proc/sched_debug", "/proc/timer_list", "/proc/keys", "/proc/sys/kernel/kptr_restrict",
  "/dev/kmsg", "/sys/kernel/notes", "/sys/firmware", "/boot", "/lib/modules"];
const readable = [];
for (const p of paths) {
  try {
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) fs.readdirSync(p);
    else fs.readFileSync(p);
    readable.push(p);
  } catch {}
}
return { readable, own_maps_readable: fs.readFileSync("/proc/self/maps", "utf8").length > 0 };
