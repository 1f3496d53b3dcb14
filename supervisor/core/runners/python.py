# jaild's trusted in-jail Python runner.
#
# Embedded in the supervisor and written read-only into the jail as
# /jaild/runner.py; run as `/usr/bin/python3.11 -I -S -B /jaild/runner.py`.
#
# Protocol (version 1; supervisor/core/src/run/job.rs is the other side):
#   fd 3 (read):  the job, one line of JSON
#                 {"v": 1, "language": "python", "filename": "script.py",
#                  "code": "...", "input": <JSON>, "policy": {"blocked_modules":
#                  [...], "dynamic_code": true|false}}
#                 read to the end, then closed; another version is refused.
#   fd 4 (write): first, once the runner is up and about to read its job, one line
#                 {"v": 1, "ready": true}
#                 (a warm jail waits for it); then the result, one JSON object
#                 written once, then closed:
#                 {"v": 1, "ok": true, "result": <JSON>, "violations": [...]}
#                 {"v": 1, "ok": false, "error": {"type", "message", "traceback"},
#                  "violations": [...]}
#   fd 1/2:       the script's stdout/stderr, flushed before the result is written.
#   exit status:  0 when ok, 1 when the script raised, the code of a
#                 SystemExit(int), 70 when the runner itself failed (bad job).
#
# The script runs as exec(compile(code, filename, "exec"), g) in a fresh
# module registered as __main__, whose globals hold `input` (the parsed input);
# the result is g["result"] after the script ends (missing/None -> null).
#
# Error "type" naming: builtin exceptions and classes defined by the script
# itself (module "__main__") use their __qualname__ ("ZeroDivisionError",
# "MyError"); every other class is "module.qualname"
# ("json.decoder.JSONDecodeError").  The traceback keeps only frames whose
# filename is the script's filename, so no runner frame or path shows.
#
# The runner must look ordinary to the jail's seccomp allowlist: no threads,
# no subprocesses, no sockets, no file writes except fd 4, and it reads no file
# but what its few imports need.  It avoids the `json` package on purpose
# (json -> re -> enum costs about 10 ms of start-up) and talks to the C
# accelerator `_json` directly; `traceback`/`linecache` are imported only when
# there is an error to format.
#
# The policy layer below (blocked modules, disabled eval/exec/compile) is NOT
# the security boundary: a determined script can get around it from inside the
# interpreter.  The boundary is the jail (namespaces, Landlock, seccomp, no
# network).  The policy only makes refusals clean and reports them.

import sys
import builtins
import posix
import _json

_JOB_FD = 3
_RESULT_FD = 4
_EXIT_RUNNER_FAILED = 70
_MAX_VIOLATIONS = 100
_PROTOCOL = 1
_JSON_WS = " \t\n\r"

# Bound now: the script shares the interpreter and may rebind module attributes.
_read, _write, _close, _exit, _set_blocking = (
    posix.read, posix.write, posix.close, posix._exit, posix.set_blocking)
# Only the runner's own process writes the result: a process the script forked also runs to
# the end of the script, and must leave without a word on the result pipe.
_RUNNER_PID = posix.getpid()
_getpid = posix.getpid


class _DecodeContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads accepts them


def _loads(text):
    scan = _json.make_scanner(_DecodeContext())
    start = len(text) - len(text.lstrip(_JSON_WS))
    try:
        value, end = scan(text, start)
    except StopIteration as exc:
        raise ValueError("invalid JSON at offset %s" % (exc.value,)) from None
    if text[end:].strip(_JSON_WS):
        raise ValueError("extra data after JSON at offset %d" % end)
    return value


class _Unserializable(TypeError):
    pass


def _default(obj):
    raise _Unserializable("object of type %s" % _type_name(type(obj)))


def _dumps(obj, default=_default):
    # Same output as json.dumps(obj, allow_nan=False) with ASCII escapes.
    encode = _json.make_encoder(
        {}, default, _json.encode_basestring_ascii, None, ": ", ", ",
        False, False, False)
    return "".join(encode(obj, 0))


def _type_name(cls):
    qualname = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    module = getattr(cls, "__module__", None)
    if not isinstance(module, str) or module in ("builtins", "__main__"):
        return str(qualname)
    return "%s.%s" % (module, qualname)


def _safe_str(obj):
    try:
        return str(obj)
    except BaseException:
        try:
            return object.__repr__(obj)
        except BaseException:
            return "<unprintable>"


def _announce_ready():
    """Tell the supervisor the runner waits for its job (one line on the result fd)."""
    line = memoryview(b'{"v": 1, "ready": true}\n')
    while line:
        try:
            line = line[_write(_RESULT_FD, line):]
        except InterruptedError:
            continue


def _read_job():
    chunks = []
    while True:
        chunk = _read(_JOB_FD, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    _close(_JOB_FD)
    return _loads(b"".join(chunks).decode("utf-8"))


def _write_result(text):
    data = text.encode("utf-8", "backslashreplace")
    view = memoryview(data)
    while view:
        try:
            written = _write(_RESULT_FD, view)
        except BlockingIOError:
            _set_blocking(_RESULT_FD, True)
            continue
        except InterruptedError:
            continue
        view = view[written:]
    _close(_RESULT_FD)


def _flush_std():
    seen = []
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is None or any(stream is s for s in seen):
            continue
        seen.append(stream)
        try:
            stream.flush()
        except BaseException:
            pass


def _finish(payload, status):
    """Flush the script's output, write the result once, and leave at once."""
    _flush_std()
    if _getpid() != _RUNNER_PID:
        _exit(status)
    try:
        _write_result(payload)
    except BaseException:
        status = status or _EXIT_RUNNER_FAILED
    # _exit: no atexit handlers, no waiting for threads, no interpreter
    # teardown; the result is final and the script's output is flushed.
    _exit(status)


class _Policy:
    def __init__(self, blocked, dynamic_code):
        self.blocked = tuple(blocked)
        self.dynamic_code = dynamic_code
        self.violations = []
        self._seen = set()
        self.active = False

    def record(self, kind, detail):
        key = (kind, detail)
        if key in self._seen or len(self.violations) >= _MAX_VIOLATIONS:
            return
        self._seen.add(key)
        self.violations.append({"kind": kind, "detail": detail})

    def blocked_root(self, fullname):
        for name in self.blocked:
            if fullname == name or fullname.startswith(name + "."):
                return name
        return None


class _BlockedModuleFinder:
    """sys.meta_path finder refusing the policy's blocked modules (and their
    submodules).  It comes first on meta_path, so it is asked before the
    builtin, frozen and path finders; importlib.import_module, __import__ and
    importlib.util.find_spec all go through it."""

    def __init__(self, policy):
        self._policy = policy

    def find_spec(self, fullname, path=None, target=None):
        policy = self._policy
        if not policy.active or policy.blocked_root(fullname) is None:
            return None
        policy.record("blocked_module", fullname)
        raise ModuleNotFoundError(
            "module '%s' is blocked by the jail's policy" % fullname, name=fullname)

    def invalidate_caches(self):
        pass


def _disabled_builtin(policy, name):
    def disabled(*args, **kwargs):
        policy.record("dynamic_code", name)
        raise PermissionError("dynamic code is disabled by the jail's policy (%s)" % name)

    disabled.__name__ = disabled.__qualname__ = name
    return disabled


def _script_frames_only(tb, filename):
    frames = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            frames.append(tb)
        tb = tb.tb_next
    new = None
    for entry in reversed(frames):
        new = type(entry)(new, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return new


def _format_traceback(exc, filename, source):
    # Only reached on the error path; the blocked-module finder is inactive by
    # now, so these imports are the runner's own.
    import linecache
    import traceback

    # The script is not a file: serve its lines from memory (mtime None means
    # linecache never stats or reads anything for it).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            e.__traceback__ = _script_frames_only(e.__traceback__, filename)
        except BaseException:
            pass
        todo.append(e.__cause__)
        todo.append(e.__context__)
        todo.extend(getattr(e, "exceptions", None) or ())
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    return "".join(te.format())


def _error_payload(exc, filename, source, policy, message=None):
    try:
        tb_text = _format_traceback(exc, filename, source)
    except BaseException:
        tb_text = "%s: %s\n" % (_type_name(type(exc)), _safe_str(exc))
    error = {
        "type": _type_name(type(exc)),
        "message": _safe_str(exc) if message is None else message,
        "traceback": tb_text,
    }
    return '{"v": 1, "ok": false, "error": %s, "violations": %s}' % (
        _dumps(error, default=_safe_str), _dumps(policy.violations))


def _ok_payload(result, policy):
    """(payload, exit status) for a script that ended normally."""
    try:
        result_json = _dumps(result)
    except _Unserializable as exc:
        return _result_error(policy, "result is not JSON-serializable: %s" % exc), 1
    except (TypeError, ValueError, RecursionError) as exc:
        # TypeError names the type ("keys must be str, ..., not tuple"),
        # ValueError the float ("Out of range float values ...") or the cycle.
        return _result_error(policy, "result is not JSON-serializable: %s" % _safe_str(exc)), 1
    return '{"v": 1, "ok": true, "result": %s, "violations": %s}' % (
        result_json, _dumps(policy.violations)), 0


def _result_error(policy, message):
    error = {"type": "ResultError", "message": message, "traceback": ""}
    return '{"v": 1, "ok": false, "error": %s, "violations": %s}' % (
        _dumps(error), _dumps(policy.violations))


def _run(job):
    filename = job.get("filename") or "<script>"
    source = job.get("code")
    if not isinstance(filename, str) or not isinstance(source, str):
        raise ValueError("job needs string 'filename' and 'code'")
    policy_spec = job.get("policy") or {}
    blocked = [str(m)[5:] if str(m).startswith("node:") else str(m)
               for m in (policy_spec.get("blocked_modules") or ())]
    policy = _Policy([m for m in blocked if m], policy_spec.get("dynamic_code", True) is not False)

    # The script gets its own fresh __main__ module (so pickle, dataclasses
    # and `import __main__` see the script, not the runner).
    script_module = type(sys)("__main__")
    g = script_module.__dict__
    g["__builtins__"] = builtins
    g["input"] = job.get("input")
    sys.modules["__main__"] = script_module
    sys.argv = [filename]

    if source.startswith("\ufeff"):
        source = source[1:]  # a UTF-8 BOM is fine in a file, not in a string
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except BaseException as exc:
        return _error_payload(exc, filename, source, policy), 1

    # Policy, installed after the runner's own imports and compile.
    if policy.blocked:
        for name in list(sys.modules):
            if policy.blocked_root(name) is not None:
                del sys.modules[name]
        sys.meta_path.insert(0, _BlockedModuleFinder(policy))
    if not policy.dynamic_code:
        # Only the script's own builtins are replaced: stdlib code that needs
        # exec/eval internally (namedtuple, dataclasses) keeps working.
        restricted = dict(builtins.__dict__)
        for name in ("eval", "exec", "compile"):
            restricted[name] = _disabled_builtin(policy, name)
        g["__builtins__"] = restricted

    policy.active = True
    try:
        exec(code, g)
    except SystemExit as exc:
        policy.active = False
        status = exc.code
        if status is None or status == 0:
            return _ok_payload(g.get("result"), policy)
        payload = _error_payload(exc, filename, source, policy, message=_safe_str(status))
        if isinstance(status, int):
            return payload, status & 0xFF or 1
        return payload, 1
    except BaseException as exc:
        policy.active = False
        return _error_payload(exc, filename, source, policy), 1
    policy.active = False
    return _ok_payload(g.get("result"), policy)


def _main():
    try:
        _announce_ready()
        job = _read_job()
        if not isinstance(job, dict):
            raise ValueError("job is not a JSON object")
        if job.get("v", _PROTOCOL) != _PROTOCOL:
            raise ValueError("runner protocol version %r (this runner speaks %d)" % (job.get("v"), _PROTOCOL))
    except BaseException as exc:
        error = {"type": "RunnerError", "message": "bad job: %s" % _safe_str(exc), "traceback": ""}
        _finish('{"v": 1, "ok": false, "error": %s, "violations": []}' % _dumps(error), _EXIT_RUNNER_FAILED)
        return
    try:
        payload, status = _run(job)
    except BaseException as exc:
        error = {"type": "RunnerError", "message": "runner failed: %s: %s" % (
            _type_name(type(exc)), _safe_str(exc)), "traceback": ""}
        payload, status = '{"v": 1, "ok": false, "error": %s, "violations": []}' % _dumps(error), _EXIT_RUNNER_FAILED
    _finish(payload, status)


_main()
