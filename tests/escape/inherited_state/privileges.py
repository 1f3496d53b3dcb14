# attack: find privileges to use: capabilities in any set, supplementary groups, setuid-root
# attack: binaries, no_new_privs off; then take uid 0 and group 0.
# expect: status=security_violation
# expect: result.ids=[1000, 1000, 1000, 1000]
# expect: result.groups=[]
# expect: result.caps=["0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"]
# expect: result.no_new_privs=1
# expect: result.seccomp_mode=2
# expect: result.setuid_0=EPERM
# expect: result.setgid_0=EPERM
# stopped_by: seccomp: violation=setuid
# stopped_by: seccomp: violation=setgid
# note: the jail's uid 0 is jail-init's; the script runs as 1000 (an unprivileged host uid) with
# note: empty capability and bounding sets, locked securebits and no_new_privs. setuid and setgid
# note: are denied by seccomp before the kernel's own check (no CAP_SETUID) is reached.
import errno, os

status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


result = {
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
    "groups": os.getgroups(),
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
    "no_new_privs": int(status["NoNewPrivs"]),
    "seccomp_mode": int(status["Seccomp"]),
    "setuid_0": attempt(lambda: os.setuid(0)),
    "setgid_0": attempt(lambda: os.setgid(0)),
}
