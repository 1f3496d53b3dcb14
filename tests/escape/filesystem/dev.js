// attack: reach devices: raw memory, the kernel log, disks, a terminal, shared memory, KVM, vsock,
// attack: TUN, FUSE and userfaultfd device nodes.
// expect: status=ok
// expect: result.dev_listing=EACCES
// expect: result.present=["/dev/full", "/dev/null", "/dev/random", "/dev/urandom", "/dev/zero"]
// expect: result.missing=["/dev/fuse", "/dev/kmsg", "/dev/kvm", "/dev/mem", "/dev/net/tun", "/dev/sda", "/dev/shm", "/dev/tty", "/dev/userfaultfd", "/dev/vda", "/dev/vsock"]
// stopped_by: landlock: result.dev_listing=EACCES
// stopped_by: mount-namespace: result.missing=["/dev/fuse", "/dev/kmsg", "/dev/kvm", "/dev/mem", "/dev/net/tun", "/dev/sda", "/dev/shm", "/dev/tty", "/dev/userfaultfd", "/dev/vda", "/dev/vsock"]
// note: Node has no mknod; the Python case also tries to make device nodes.
const fs = require("fs");

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return e.code || String(e);
  }
}

const present = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];
const nodes = ["/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/vda", "/dev/tty", "/dev/shm", "/dev/kvm",
  "/dev/vsock", "/dev/net/tun", "/dev/fuse", "/dev/userfaultfd"];
return {
  dev_listing: attempt(() => fs.readdirSync("/dev")),
  present: present.filter((n) => fs.existsSync(n)).sort(),
  missing: nodes.filter((n) => attempt(() => fs.closeSync(fs.openSync(n, "r"))) === "ENOENT").sort(),
};
