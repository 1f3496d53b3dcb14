# attack: learn the kernel to attack it: kernel symbols and their addresses, the kernel log, the
# attack: kernel image and memory, loaded modules, the config, the command line, slab and
# attack: interrupt statistics, scheduler debug data.
# expect: status=ok
# expect: result.readable=[]
# expect: result.own_maps_readable=true
# stopped_by: procfs: result.readable=[]
# note: subset=pid leaves only per-process directories in the jail's /proc; /sys, /boot and
# note: /dev/kmsg are not in the jail's view. syslog(2) is denied by seccomp
# note: (syscalls/kernel_admin.py).
import os

paths = ["/proc/kallsyms", "/proc/kmsg", "/proc/kcore", "/proc/modules", "/proc/config.gz",
         "/proc/cmdline", "/proc/version", "/proc/slabinfo", "/proc/interrupts", "/proc/iomem",
         "/proc/sched_debug", "/proc/timer_list", "/proc/keys", "/proc/sys/kernel/kptr_restrict",
         "/dev/kmsg", "/sys/kernel/notes", "/sys/firmware", "/boot", "/lib/modules"]
readable = []
for p in paths:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            with open(p, "rb") as f:
                f.read(16)
        readable.append(p)
    except OSError:
        pass
result = {"readable": readable, "own_maps_readable": len(open("/proc/self/maps").read()) > 0}
