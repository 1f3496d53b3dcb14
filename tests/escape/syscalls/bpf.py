# attack: load a BPF program and create a BPF map (the verifier is a large attack surface; an
# attack: unprivileged socket filter needs nothing else).
# kernel_only: ctypes is blocked by the shipped policy layer; raw syscalls are the attack
# expect: status=security_violation
# expect: result.map_create=EPERM
# expect: result.prog_load=EPERM
# expect: result.bpffs_visible=false
# stopped_by: seccomp: violation=bpf
# stopped_by: mount-namespace: result.bpffs_visible=false
import ctypes, errno, os, struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_MAP_TYPE_ARRAY, BPF_PROG_TYPE_SOCKET_FILTER = 0, 5, 2, 1


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    ctypes.set_errno(0)
    rv = libc.syscall(ctypes.c_long(321), ctypes.c_long(cmd), buf, ctypes.c_long(128))
    return "ok" if rv >= 0 else errno.errorcode[ctypes.get_errno()]


insns = ctypes.create_string_buffer(struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0))
license = ctypes.create_string_buffer(b"GPL")
result = {
    "map_create": bpf(BPF_MAP_CREATE, struct.pack("<IIII", BPF_MAP_TYPE_ARRAY, 4, 8, 16)),
    "prog_load": bpf(BPF_PROG_LOAD, struct.pack("<IIQQ", BPF_PROG_TYPE_SOCKET_FILTER, 2,
                                                ctypes.addressof(insns), ctypes.addressof(license))),
    "bpffs_visible": os.path.exists("/sys/fs/bpf"),
}
