# attack: read the host's secrets: /etc/shadow, SSH host keys, root's home, canary files the test
# attack: planted on the host, jaild's state directory, and the supervisor's environment
# attack: through /proc.
# expect: status=ok
# expect: result.etc_shadow=ENOENT
# expect: result.etc_passwd=jails_own
# expect: result.ssh_host_key=ENOENT
# expect: result.root_home=ENOENT
# expect: result.host_canary_secret=ENOENT
# expect: result.host_canary_dir=ENOENT
# expect: result.root_canary=ENOENT
# expect: result.jaild_state=ENOENT
# expect: result.home=ENOENT
# expect: result.supervisor_environ=ENOENT
# expect: result.jail_init_environ=ENOENT
# stopped_by: mount-namespace: result.etc_shadow=ENOENT
# stopped_by: mount-namespace: result.etc_passwd=jails_own
# stopped_by: mount-namespace: result.host_canary_secret=ENOENT
# stopped_by: pid-namespace: result.supervisor_environ=ENOENT
# stopped_by: procfs: result.jail_init_environ=ENOENT
# note: the jail's root is a tmpfs holding only the interpreter's files and the jail's own /etc
# note: (passwd, group, hosts, nsswitch.conf, services, protocols); /tmp is the run's own
# note: tmpfs, so the host's /tmp canary is not there. PID 1 (jail-init, uid 0) is hidden by
# note: hidepid=invisible, and host pids do not exist in the jail's PID namespace.
import errno, os

host = input["host"]


def attempt(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read()
        # isdir() is False for a path that does not exist: open() then raises
        return "read"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def whose_passwd():
    # The jail has a passwd of its own (root, jail, nobody); any other user is the host's.
    try:
        with open("/etc/passwd") as f:
            users = {line.split(":")[0] for line in f if line.strip()}
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "jails_own" if users <= {"root", "jail", "nobody"} else "host: " + ",".join(sorted(users))


result = {
    "etc_shadow": attempt("/etc/shadow"),
    "etc_passwd": whose_passwd(),
    "ssh_host_key": attempt("/etc/ssh/ssh_host_ed25519_key"),
    "root_home": attempt("/root"),
    "host_canary_secret": attempt(host["canary_secret"]),
    "host_canary_dir": attempt(host["canary_dir"] + "/"),
    "root_canary": attempt(host["root_canary"]),
    "jaild_state": attempt("/var/lib/jaild/"),
    "home": attempt("/home/"),
    "supervisor_environ": attempt("/proc/%d/environ" % host["supervisor_pid"]),
    "jail_init_environ": attempt("/proc/1/environ"),
}
