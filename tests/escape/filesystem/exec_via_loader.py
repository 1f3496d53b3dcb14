# attack: get around noexec with the dynamic loader (which may be executed): run
# attack: `ld-linux-x86-64.so.2 /work/python` on a copy of the interpreter in scratch, and map the
# attack: copy executable with mmap(PROT_EXEC) directly.
# expect: status=ok
# expect: result.loader_exit=127
# expect: result.loader_failed_to_map=true
# expect: result.mmap_exec=EPERM
# expect: result.mmap_read=ok
# stopped_by: noexec-mount: result.mmap_exec=EPERM
# note: the loader maps the program's segments with PROT_EXEC, which the kernel refuses for files
# note: on a noexec mount (EPERM); the loader reports "failed to map segment" and exits 127. The
# note: loader can run code only from the interpreter's own exec mounts (its binary, libraries
# note: and extension modules), which the interpreter maps anyway.
import errno, mmap, os, shutil


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


shutil.copy("/usr/bin/python3.11", "/work/python")
os.chmod("/work/python", 0o755)
r, w = os.pipe()
pid = os.posix_spawn(
    "/lib64/ld-linux-x86-64.so.2",
    ["ld.so", "/work/python", "-c", "print('escaped')"],
    {},
    file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, w, 2)],
)
os.close(w)
out = b""
while True:
    chunk = os.read(r, 4096)
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
fd = os.open("/work/python", os.O_RDONLY)
result = {
    "loader_exit": os.waitstatus_to_exitcode(status),
    "loader_failed_to_map": b"failed to map segment" in out,
    "mmap_exec": attempt(lambda: mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)),
    "mmap_read": attempt(lambda: mmap.mmap(fd, 4096, prot=mmap.PROT_READ)),
}
