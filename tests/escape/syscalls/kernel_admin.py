# attack: the host administration syscalls: load a kernel or a module, reboot, swap, process
# attack: accounting, the kernel log, I/O ports, quotas, the clock, the host name, a seccomp filter
# attack: or Landlock ruleset of its own, and taking uid 0 or capabilities back.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result={"acct": "EPERM", "adjtimex": "EPERM", "capset": "EPERM", "clock_settime": "EPERM", "delete_module": "EPERM", "finit_module": "EPERM", "init_module": "EPERM", "ioperm": "EPERM", "iopl": "EPERM", "kexec_file_load": "EPERM", "kexec_load": "EPERM", "landlock_create_ruleset": "EPERM", "quotactl": "EPERM", "reboot": "EPERM", "seccomp": "EPERM", "setdomainname": "EPERM", "setgroups": "EPERM", "sethostname": "EPERM", "settimeofday": "EPERM", "setuid": "EPERM", "swapoff": "EPERM", "swapon": "EPERM", "syslog": "EPERM", "vhangup": "EPERM"}
# stopped_by: seccomp: violation=kexec_load
# stopped_by: seccomp: violation=kexec_file_load
# stopped_by: seccomp: violation=init_module
# stopped_by: seccomp: violation=finit_module
# stopped_by: seccomp: violation=delete_module
# stopped_by: seccomp: violation=reboot
# stopped_by: seccomp: violation=swapon
# stopped_by: seccomp: violation=swapoff
# stopped_by: seccomp: violation=acct
# stopped_by: seccomp: violation=syslog
# stopped_by: seccomp: violation=iopl
# stopped_by: seccomp: violation=ioperm
# stopped_by: seccomp: violation=quotactl
# stopped_by: seccomp: violation=settimeofday
# stopped_by: seccomp: violation=clock_settime
# stopped_by: seccomp: violation=adjtimex
# stopped_by: seccomp: violation=sethostname
# stopped_by: seccomp: violation=setdomainname
# stopped_by: seccomp: violation=vhangup
# stopped_by: seccomp: violation=seccomp
# stopped_by: seccomp: violation=landlock_create_ruleset
# stopped_by: seccomp: violation=setuid
# stopped_by: seccomp: violation=setgroups
# stopped_by: seccomp: violation=capset
# note: seccomp(2) and landlock_create_ruleset are denied too: a script may not stack filters of
# note: its own (a filter returning errors for the runner's own calls could confuse the report).
import ctypes, errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
zeros = ctypes.create_string_buffer(256)
CALLS = {
    "kexec_load": (246, 0, 0, 0, 0),
    "kexec_file_load": (320, -1, -1, 0, 0, 0),
    "init_module": (175, zeros, 16, zeros),
    "finit_module": (313, 0, zeros, 0),
    "delete_module": (176, b"ext4", 0),
    "reboot": (169, 0xFEE1DEAD, 0x28121969, 0x89ABCDEF, 0),  # LINUX_REBOOT_CMD_CAD_ON: harmless if it ran
    "swapon": (167, b"/work/swap", 0),
    "swapoff": (168, b"/work/swap"),
    "acct": (163, b"/work/acct"),
    "syslog": (103, 3, zeros, 256),  # SYSLOG_ACTION_READ_ALL
    "iopl": (172, 3),
    "ioperm": (173, 0x60, 1, 1),
    "quotactl": (179, 0x800002, b"/", 0, zeros),
    "settimeofday": (164, zeros, 0),
    "clock_settime": (227, 0, zeros),
    "adjtimex": (159, zeros),
    "sethostname": (170, b"pwned", 5),
    "setdomainname": (171, b"pwned", 5),
    "vhangup": (153,),
    "seccomp": (317, 0, 0, 0),  # SECCOMP_SET_MODE_STRICT
    "landlock_create_ruleset": (444, 0, 0, 1),
    "setuid": (105, 0),
    "setgroups": (116, 1, zeros),
    "capset": (126, zeros, zeros),
}


def call(nr, *args):
    conv = [a if isinstance(a, ctypes.Array) else ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a)
            for a in args]
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), *conv)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


result = {name: call(*spec) for name, spec in sorted(CALLS.items())}
