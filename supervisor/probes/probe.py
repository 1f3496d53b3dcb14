# jaild verify: the probe suite for Python profiles (supervisor/src/verify.rs).
#
# Runs as an ordinary script inside a real jail of the profile under test, with the language
# policy layer off (verify clears blocked_modules for the run, nothing else): what stops a probe
# is the kernel. `input` says what to do; `result` says what happened, probe by probe:
#   {"id": {"ok": true|false, "err": "EACCES"|null, "detail": "...", ...}, ...}
# "ok" means the operation succeeded: the permission was there. verify.rs compares that with
# what the profile declares. Syscalls denied by the filter also show up in the run's report
# (violations), which verify reads as the second witness.
#
# Edge modes (one run each, the verdict of the run is the observation): memory, balloon, pids,
# stdout, sleep, spin.

import os
import sys
import errno as _errno

_NAME = "jaild-verify-%d" % os.getpid()


def _err(e):
    if isinstance(e, OSError) and e.errno:
        return _errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def _fail(e, **extra):
    out = {"ok": False, "err": _err(e), "detail": str(e)}
    out.update(extra)
    return out


def op_read(p):
    path = p["path"]
    if os.path.isdir(path):
        return {"ok": True, "detail": "listed %d entries" % len(os.listdir(path))}
    with open(path, "rb") as f:
        data = f.read(64)
    return {"ok": True, "detail": "read %d bytes" % len(data)}


def _create_in(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"probe")
    finally:
        os.close(fd)
    with open(path, "rb") as f:
        back = f.read()
    os.unlink(path)
    return {"ok": True, "detail": "created %s, wrote and read back %d bytes, deleted it" % (path, len(back))}


def op_write(p):
    path = p["path"]
    if os.path.isdir(path):
        return _create_in(os.path.join(path, "." + _NAME))
    if os.path.lexists(path):
        os.close(os.open(path, os.O_WRONLY))
        return {"ok": True, "detail": "opened %s for writing" % path}
    return _create_in(path)


def op_exec(p):
    path = p["path"]
    made = False
    if "copy_from" in p:
        import shutil
        shutil.copyfile(p["copy_from"], path)
        os.chmod(path, 0o755)
        made = True
    elif "content" in p:
        with open(path, "w") as f:
            f.write(p["content"])
        os.chmod(path, 0o755)
        made = True
    try:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                null = os.open("/dev/null", os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                os.execv(path, [path] + list(p.get("args", [])))
            except BaseException as e:
                try:
                    os.write(w, _err(e).encode())
                finally:
                    os._exit(127)
        os.close(w)
        msg = b""
        while True:
            chunk = os.read(r, 100)
            if not chunk:
                break
            msg += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if msg:
            return {"ok": False, "err": msg.decode(), "detail": "execve failed"}
        return {"ok": True, "detail": "ran, exit status %d" % os.waitstatus_to_exitcode(status)}
    finally:
        if made:
            try:
                os.unlink(path)
            except OSError:
                pass


_libc = None


def op_syscall(p):
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    args = [ctypes.c_ulong(a & 0xFFFFFFFFFFFFFFFF) for a in p["args"]]
    ctypes.set_errno(0)
    ret = _libc.syscall(ctypes.c_long(p["nr"]), *args)
    if ret == -1:
        e = ctypes.get_errno()
        return {"ok": False, "err": _errno.errorcode.get(e, str(e)), "ret": -1}
    return {"ok": True, "err": None, "ret": ret}


def op_syscalls(p):
    """Makes each call in a forked child, which reports call by call on a pipe: a call that
    kills its caller (SIGILL from uretprobe outside a uprobe, say) costs only that child, and
    the rest go on in a new one."""
    import json
    calls = p["calls"]
    out = {}
    i = 0
    while i < len(calls):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                for c in calls[i:]:
                    os.write(w, ("S %s\n" % c["id"]).encode())
                    os.write(w, ("R %s %s\n" % (c["id"], json.dumps(op_syscall(c)))).encode())
            finally:
                os._exit(0)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            data += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        started = None
        for line in data.decode().splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "S":
                started = rest
            elif kind == "R":
                cid, _, res = rest.partition(" ")
                out[cid] = json.loads(res)
                started = None
        done = [c["id"] for c in calls].index(started) if started is not None else len(calls) - 1
        if started is not None:
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            out[started] = {"ok": False, "err": None, "signal": sig, "detail": "the call ended its process"}
        i = max(done + 1, i + 1) if started is not None else len(calls)
    return {"ok": True, "results": out}


def op_connect(p):
    import socket
    family = socket.AF_INET6 if p["family"] == "inet6" else socket.AF_INET
    kind = socket.SOCK_DGRAM if p["proto"] == "udp" else socket.SOCK_STREAM
    try:
        s = socket.socket(family, kind)
    except OSError as e:
        return _fail(e, stage="socket")
    try:
        s.settimeout(1.0)
        if p["proto"] == "udp":
            s.sendto(b"\0" * 12, (p["host"], p["port"]))
            return {"ok": True, "detail": "sent a datagram to %s:%d" % (p["host"], p["port"])}
        s.connect((p["host"], p["port"]))
        return {"ok": True, "detail": "connected to %s:%d" % (p["host"], p["port"])}
    except OSError as e:
        return _fail(e, stage="connect")
    finally:
        s.close()


def op_socketpair(p):
    import socket
    a, b = socket.socketpair()
    a.sendall(b"ping")
    got = b.recv(4)
    a.close()
    b.close()
    return {"ok": got == b"ping", "detail": "AF_UNIX socketpair carried %r" % got}


def op_walk(p):
    skip = set(p["skip"])
    entries = []
    errors = []
    todo = ["/"]
    while todo and len(entries) < 5000:
        d = todo.pop()
        try:
            names = sorted(os.listdir(d))
        except OSError as e:
            errors.append("%s: %s" % (d, _err(e)))
            continue
        for n in names:
            full = os.path.join(d, n)
            entries.append(full)
            if full in skip:
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                todo.append(full)
    return {"ok": True, "entries": entries, "errors": errors}


def op_lstat(p):
    found = []
    for path in p["paths"]:
        try:
            os.lstat(path)
            found.append(path)
        except OSError:
            pass
    return {"ok": True, "found": found, "checked": len(p["paths"])}


def op_proc(p):
    pids = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
    return {"ok": True, "pids": pids, "self": os.getpid()}


def op_status(p):
    keep = ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keep:
                status[k] = v.split()
    with open("/proc/self/uid_map") as f:
        uid_map = [l.split() for l in f]
    with open("/proc/self/gid_map") as f:
        gid_map = [l.split() for l in f]
    return {"ok": True, "status": status, "uid_map": uid_map, "gid_map": gid_map,
            "hostname": os.uname().nodename, "cwd": os.getcwd()}


def op_environ(p):
    return {"ok": True, "env": dict(os.environ)}


def op_kill(p):
    os.kill(p["pid"], p["sig"])
    return {"ok": True, "detail": "signal %d delivered to pid %d" % (p["sig"], p["pid"])}


def op_fill(p):
    d, chunk, stop = p["dir"], p["chunk"], p["stop"]
    total, n, err = 0, 0, None
    data = b"\x01" * chunk
    names = []
    try:
        while total < stop:
            name = os.path.join(d, ".%s-fill-%d" % (_NAME, n))
            names.append(name)
            n += 1
            with open(name, "wb", buffering=0) as f:
                view = memoryview(data)
                while view:
                    w = f.write(view)
                    total += w
                    view = view[w:]
    except OSError as e:
        err = _err(e)
    finally:
        for name in names:
            try:
                os.unlink(name)
            except OSError:
                pass
    return {"ok": err is None, "err": err, "written": total}


def op_inodes(p):
    d, stop = p["dir"], p["stop"]
    made, err = [], None
    try:
        while len(made) < stop:
            name = os.path.join(d, ".%s-i%d" % (_NAME, len(made)))
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            made.append(name)
    except OSError as e:
        err = _err(e)
    finally:
        for name in made:
            try:
                os.unlink(name)
            except OSError:
                pass
    return {"ok": err is None, "err": err, "created": len(made)}


def op_filesize(p):
    name = os.path.join(p["dir"], ".%s-big" % _NAME)
    total, err = 0, None
    chunk = b"\x01" * (64 << 10)
    try:
        with open(name, "wb", buffering=0) as f:
            while total < p["stop"]:
                total += f.write(chunk)
    except OSError as e:
        err = _err(e)
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
    return {"ok": err is None, "err": err, "written": total}


def op_open_files(p):
    fds, err = [], None
    try:
        while len(fds) < p["stop"]:
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        err = _err(e)
    highest = max(fds) if fds else -1
    for fd in fds:
        os.close(fd)
    return {"ok": err is None, "err": err, "highest": highest, "opened": len(fds)}


def op_memfd_exec(p):
    try:
        fd = os.memfd_create("jaild-verify", 0)
    except OSError as e:
        return _fail(e, stage="memfd_create")
    with open(p["copy_from"], "rb") as f:
        os.write(fd, f.read())
    path = "/proc/self/fd/%d" % fd
    r = op_exec({"path": "/proc/%d/fd/%d" % (os.getpid(), fd), "args": p.get("args", [])})
    os.close(fd)
    r["stage"] = "execve " + path
    return r


OPS = {name[3:]: fn for name, fn in list(globals().items()) if name.startswith("op_")}


def main(job):
    mode = job["mode"]
    if mode == "probes":
        out = {}
        for p in job["probes"]:
            try:
                out[p["id"]] = OPS[p["op"]](p)
            except BaseException as e:
                out[p["id"]] = _fail(e)
        return out
    if mode == "stdout":
        sys.stdout.write("x" * job["bytes"])
        sys.stdout.flush()
        return job["bytes"]
    if mode == "memory":
        data = b"\x01" * job["bytes"]
        return len(data)
    if mode == "balloon":
        xs = []
        while True:
            xs.append(b"\x01" * (8 << 20))
    if mode == "pids":
        import time
        n = 0
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
            except OSError:
                time.sleep(0.01)
    if mode == "sleep":
        import time
        time.sleep(30)
    if mode == "spin":
        while True:
            pass
    raise ValueError("unknown mode %r" % mode)


result = main(input)
