# attack: crash on purpose (abort, segfault) so the kernel dumps core: a core file written
# attack: outside the jail, or a core_pattern pipe helper started as root on the host with the
# attack: crashed process as its input.
# expect: status=ok
# expect: result.signals=[6, 11]
# expect: result.core_dumped=false
# expect: result.rlimit_core=["1", "1"]
# stopped_by: rlimit: result.core_dumped=false
# note: RLIMIT_CORE is 1 (soft and hard). With a file core_pattern (this host's: "core") that is
# note: below the smallest ELF core, so nothing is dumped. With a pipe core_pattern
# note: (systemd-coredump, apport: most systemd hosts) the kernel ignores the limit, except for
# note: the value 1, which makes it refuse: no helper is started as root on the host.
import os, signal

limits = [l for l in open("/proc/self/limits").read().splitlines() if l.startswith("Max core file size")]
signals, dumped = [], []
for how in (os.abort, lambda: os.kill(os.getpid(), signal.SIGSEGV)):
    pid = os.fork()
    if pid == 0:
        how()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    signals.append(os.WTERMSIG(status))
    dumped.append(os.WCOREDUMP(status))
result = {"signals": signals, "core_dumped": any(dumped), "rlimit_core": limits[0].split()[4:6]}
