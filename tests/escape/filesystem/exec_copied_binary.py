# attack: run a program of its own: copy the interpreter into scratch and exec it, write a
# attack: "downloaded" static ELF (exit(42)) into /tmp and exec it, exec the copy through
# attack: /proc/self/fd, and exec from /work after chmod +x.
# expect: status=ok
# expect: result.copied_python_work=EACCES
# expect: result.copied_python_tmp=EACCES
# expect: result.downloaded_elf=EACCES
# expect: result.via_proc_self_fd=EACCES
# stopped_by: noexec-mount: result.copied_python_work=EACCES
# stopped_by: noexec-mount: result.downloaded_elf=EACCES
# note: scratch is mounted noexec and Landlock grants execute to the interpreter and its loader
# note: only; both refuse with EACCES (the mount first). filesystem/exec_library_landlock.py shows
# note: Landlock's refusal alone, on a mount that allows exec.
import base64, errno, os, shutil

# A 64-bit static ELF that only calls exit(42): ELF header + one PT_LOAD + 12 bytes of code.
ELF = base64.b64decode(
    "f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAEAAOAAB"
    "AAAAAAAAAAEAAAAFAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAhAAAAAAAAACEAAAAAAAAAAAQ"
    "AAAAAAAAuDwAAAC/KgAAAA8F"
)


def attempt_spawn(path):
    try:
        pid = os.posix_spawn(path, [path, "-c", "print('escaped')"], {})
        _, status = os.waitpid(pid, 0)
        return "ran, status %d" % status
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


shutil.copy("/usr/bin/python3.11", "/work/python")
os.chmod("/work/python", 0o755)
shutil.copy("/usr/bin/python3.11", "/tmp/python")
os.chmod("/tmp/python", 0o755)
with open("/tmp/downloaded", "wb") as f:
    f.write(ELF)
os.chmod("/tmp/downloaded", 0o755)
fd = os.open("/work/python", os.O_RDONLY)
result = {
    "copied_python_work": attempt_spawn("/work/python"),
    "copied_python_tmp": attempt_spawn("/tmp/python"),
    "downloaded_elf": attempt_spawn("/tmp/downloaded"),
    "via_proc_self_fd": attempt_spawn("/proc/self/fd/%d" % fd),
}
