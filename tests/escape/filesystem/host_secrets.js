// attack: read the host's secrets: /etc/shadow, SSH host keys, root's home, canary files the test
// attack: planted on the host, jaild's state directory, and the supervisor's environment
// attack: through /proc.
// expect: status=ok
// expect: result.etc_shadow=ENOENT
// expect: result.etc_passwd=jails_own
// expect: result.ssh_host_key=ENOENT
// expect: result.root_home=ENOENT
// expect: result.host_canary_secret=ENOENT
// expect: result.host_canary_dir=ENOENT
// expect: result.root_canary=ENOENT
// expect: result.jaild_state=ENOENT
// expect: result.home=ENOENT
// expect: result.supervisor_environ=ENOENT
// expect: result.jail_init_environ=ENOENT
// stopped_by: mount-namespace: result.etc_shadow=ENOENT
// stopped_by: mount-namespace: result.etc_passwd=jails_own
// stopped_by: mount-namespace: result.host_canary_secret=ENOENT
// stopped_by: pid-namespace: result.supervisor_environ=ENOENT
// stopped_by: procfs: result.jail_init_environ=ENOENT
const fs = require("fs");
const host = input.host;

function attempt(path) {
  try {
    if (path.endsWith("/")) fs.readdirSync(path);
    else fs.readFileSync(path);
    return "read";
  } catch (e) {
    return e.code || String(e);
  }
}

function whosePasswd() {
  // The jail has a passwd of its own (root, jail, nobody); any other user is the host's.
  let text;
  try {
    text = fs.readFileSync("/etc/passwd", "utf8");
  } catch (e) {
    return e.code || String(e);
  }
  const users = text.split("\n").filter((l) => l.trim()).map((l) => l.split(":")[0]);
  const others = users.filter((u) => !["root", "jail", "nobody"].includes(u));
  return others.length ? "host: " + others.join(",") : "jails_own";
}

return {
  etc_shadow: attempt("/etc/shadow"),
  etc_passwd: whosePasswd(),
  ssh_host_key: attempt("/etc/ssh/ssh_host_ed25519_key"),
  root_home: attempt("/root/"),
  host_canary_secret: attempt(host.canary_secret),
  host_canary_dir: attempt(host.canary_dir + "/"),
  root_canary: attempt(host.root_canary),
  jaild_state: attempt("/var/lib/jaild/"),
  home: attempt("/home/"),
  supervisor_environ: attempt(`/proc/${host.supervisor_pid}/environ`),
  jail_init_environ: attempt("/proc/1/environ"),
};
