// attack: use descriptors leaked from the supervisor or jail-init (runc CVE-2024-21626): list
// attack: every open descriptor, see where each leads, and try to open ".." through each.
// expect: status=ok
// expect: result.kinds=["/dev/null", "anon_inode:[eventfd]", "anon_inode:[eventpoll]", "pipe"]
// expect: result.openat_parent=[]
// stopped_by: clean-fds: result.kinds=["/dev/null", "anon_inode:[eventfd]", "anon_inode:[eventpoll]", "pipe"]
// note: Node's own descriptors (its event loop's epoll and eventfd, signal pipes) are all it holds
// note: besides stdio and the result pipe.
const fs = require("fs");
const kinds = new Set();
const parents = [];
for (const f of fs.readdirSync("/proc/self/fd")) {
  let link;
  try {
    link = fs.readlinkSync(`/proc/self/fd/${f}`);
  } catch {
    continue; // the listing's own directory descriptor, closed by now
  }
  kinds.add(link.startsWith("pipe:") ? "pipe" : link);
  try {
    fs.readdirSync(`/proc/self/fd/${f}/..`);
    parents.push(link);
  } catch {}
}
return { kinds: [...kinds].sort(), openat_parent: parents };
