# attack: exec an executable that is bound into the jail on a mount that allows exec: the C
# attack: library (a runnable ELF, mode 0755) and an extension module of the standard library.
# expect: status=ok
# expect: result.libc=EACCES
# expect: result.extension_module=EACCES
# expect: result.interpreter_itself=ran, status 0
# stopped_by: landlock: result.libc=EACCES
# note: the libraries' mounts allow exec (the loader maps code from them) and libc.so.6 is
# note: executable by anyone, so only Landlock refuses: it grants execute to the interpreter and
# note: the loader only. The interpreter itself may run (subprocesses of the same interpreter).
# note: The extension module (mode 0644) is refused by its mode before Landlock is asked.
import errno, glob, os


def attempt_spawn(path, *args):
    try:
        pid = os.posix_spawn(path, [path, *args], {})
        _, status = os.waitpid(pid, 0)
        return "ran, status %d" % os.waitstatus_to_exitcode(status)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


module = sorted(glob.glob("/usr/lib/python3.11/lib-dynload/*.so"))[0]
result = {
    "libc": attempt_spawn("/lib/x86_64-linux-gnu/libc.so.6"),
    "extension_module": attempt_spawn(module),
    "interpreter_itself": attempt_spawn("/usr/bin/python3.11", "-I", "-S", "-c", "pass"),
}
