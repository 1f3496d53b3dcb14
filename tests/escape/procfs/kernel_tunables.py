# attack: take over the host through its tunables: core_pattern (a pipe to a program run as root
# attack: on any crash), modprobe, binfmt_misc register, sysrq-trigger, uevent_helper, and the
# attack: host name; read them first to know the host.
# expect: status=ok
# expect: result.write_core_pattern=ENOENT
# expect: result.write_modprobe=ENOENT
# expect: result.write_binfmt_register=ENOENT
# expect: result.write_sysrq_trigger=ENOENT
# expect: result.write_uevent_helper=ENOENT
# expect: result.write_hostname=ENOENT
# expect: result.proc_sys=ENOENT
# expect: result.sys=ENOENT
# stopped_by: procfs: result.write_core_pattern=ENOENT
# stopped_by: procfs: result.write_sysrq_trigger=ENOENT
# stopped_by: mount-namespace: result.write_uevent_helper=ENOENT
# note: the jail's /proc is mounted with subset=pid (no /proc/sys, /proc/sysrq-trigger or other
# note: global files) and /sys is not mounted at all. The suite checks after every run that the
# note: host's values are unchanged.
import errno, os


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write(path, data):
    with open(path, "w") as f:
        f.write(data)


result = {
    "write_core_pattern": attempt(lambda: write("/proc/sys/kernel/core_pattern", "|/work/payload %p")),
    "write_modprobe": attempt(lambda: write("/proc/sys/kernel/modprobe", "/work/payload")),
    "write_binfmt_register": attempt(lambda: write("/proc/sys/fs/binfmt_misc/register", ":x:E::x::/work/payload:")),
    "write_sysrq_trigger": attempt(lambda: write("/proc/sysrq-trigger", "b")),
    "write_uevent_helper": attempt(lambda: write("/sys/kernel/uevent_helper", "/work/payload")),
    "write_hostname": attempt(lambda: write("/proc/sys/kernel/hostname", "pwned")),
    "proc_sys": attempt(lambda: os.listdir("/proc/sys")),
    "sys": attempt(lambda: os.listdir("/sys")),
}
