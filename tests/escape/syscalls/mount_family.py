# attack: the mount family: mount a cgroup v1 hierarchy to set its release_agent (CVE-2022-0492),
# attack: remount the root read-write, unmount /proc, pivot_root and chroot, and the new mount API
# attack: (open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr).
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.mount_cgroup_release_agent=EPERM
# expect: result.remount_root_rw=EPERM
# expect: result.umount_proc=EPERM
# expect: result.pivot_root=EPERM
# expect: result.chroot=EPERM
# expect: result.open_tree=EPERM
# expect: result.move_mount=EPERM
# expect: result.fsopen=EPERM
# expect: result.fsconfig=EPERM
# expect: result.fsmount=EPERM
# expect: result.fspick=EPERM
# expect: result.mount_setattr=EPERM
# expect: result.cgroupfs_visible=false
# stopped_by: seccomp: violation=mount
# stopped_by: seccomp: violation=umount2
# stopped_by: seccomp: violation=pivot_root
# stopped_by: seccomp: violation=chroot
# stopped_by: seccomp: violation=open_tree
# stopped_by: seccomp: violation=move_mount
# stopped_by: seccomp: violation=fsopen
# stopped_by: seccomp: violation=fsconfig
# stopped_by: seccomp: violation=fsmount
# stopped_by: seccomp: violation=fspick
# stopped_by: seccomp: violation=mount_setattr
# stopped_by: mount-namespace: result.cgroupfs_visible=false
# note: even with mount allowed the script holds no capability in any user namespace, and the
# note: cgroup namespace roots it at its own run cgroup.
import ctypes, errno, os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(nr, *args):
    ctypes.set_errno(0)
    conv = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args]
    rv = libc.syscall(ctypes.c_long(nr), *conv)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


MS_REMOUNT, MS_BIND, MNT_DETACH, AT_FDCWD = 0x20, 0x1000, 2, -100
result = {
    "mount_cgroup_release_agent": call(165, b"cgroup", b"/tmp", b"cgroup", 0, b"memory,release_agent=/work/x"),
    "remount_root_rw": call(165, b"none", b"/", 0, MS_REMOUNT | MS_BIND, 0),
    "umount_proc": call(166, b"/proc", MNT_DETACH),
    "pivot_root": call(155, b"/tmp", b"/tmp"),
    "chroot": call(161, b"/tmp"),
    "open_tree": call(428, AT_FDCWD, b"/", 1),
    "move_mount": call(429, -1, b"", AT_FDCWD, b"/tmp", 4),
    "fsopen": call(430, b"tmpfs", 0),
    "fsconfig": call(431, 3, 6, 0, 0, 0),
    "fsmount": call(432, 3, 0, 0),
    "fspick": call(433, AT_FDCWD, b"/", 0),
    "mount_setattr": call(442, AT_FDCWD, b"/", 0, 0, 0),
    "cgroupfs_visible": os.path.exists("/sys/fs/cgroup"),
}
