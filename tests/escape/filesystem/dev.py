# attack: reach devices: raw memory, the kernel log, disks, a terminal, shared memory, KVM, vsock,
# attack: TUN, FUSE and userfaultfd device nodes, and make device nodes of its own in scratch.
# expect: status=security_violation
# expect: result.dev_listing=EACCES
# expect: result.present=["/dev/full", "/dev/null", "/dev/random", "/dev/urandom", "/dev/zero"]
# expect: result.missing=["/dev/fuse", "/dev/kmsg", "/dev/kvm", "/dev/mem", "/dev/net/tun", "/dev/sda", "/dev/shm", "/dev/tty", "/dev/userfaultfd", "/dev/vda", "/dev/vsock"]
# expect: result.mknod_mem=EPERM
# expect: result.mknod_disk=EPERM
# stopped_by: landlock: result.dev_listing=EACCES
# stopped_by: mount-namespace: result.missing=["/dev/fuse", "/dev/kmsg", "/dev/kvm", "/dev/mem", "/dev/net/tun", "/dev/sda", "/dev/shm", "/dev/tty", "/dev/userfaultfd", "/dev/vda", "/dev/vsock"]
# stopped_by: seccomp: violation=mknodat
# note: /dev is a directory of the jail's read-only root with binds of five harmless devices; the
# note: scratch mounts are nodev and Landlock does not grant make_char/make_block either. Landlock
# note: grants rights on the five device files, none on /dev itself: it cannot even be listed.
import errno, os, stat


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


present = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
nodes = ["/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/vda", "/dev/tty", "/dev/shm", "/dev/kvm",
         "/dev/vsock", "/dev/net/tun", "/dev/fuse", "/dev/userfaultfd"]
result = {
    "dev_listing": attempt(lambda: os.listdir("/dev")),
    "present": sorted(n for n in present if os.path.exists(n)),
    "missing": sorted(n for n in nodes if attempt(lambda: os.close(os.open(n, os.O_RDONLY))) == "ENOENT"),
    "mknod_mem": attempt(lambda: os.mknod("/tmp/mem", stat.S_IFCHR | 0o666, os.makedev(1, 1))),
    "mknod_disk": attempt(lambda: os.mknod("/work/vda", stat.S_IFBLK | 0o666, os.makedev(254, 0))),
}
