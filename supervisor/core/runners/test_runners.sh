#!/usr/bin/env bash
# Self-test of jaild's in-jail runners (python.py, node.cjs), run directly,
# without a jail: each job is fed on fd 3, the result read from fd 4 (a
# FIFO), the script's stdout taken through a pipe and its stderr into a file,
# and the result JSON checked with python3.
#
#   supervisor/core/runners/test_runners.sh
#
# Interpreters: JAILD_PYTHON (default /usr/bin/python3.11) and JAILD_NODE
# (default /opt/jaild/interpreters/node-24.21.0/bin/node, else `node` on PATH;
# it must be Node >= 24 for TypeScript).  ASSERT_PYTHON runs the checks
# (default python3).  Exits non-zero when any check fails.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PY=${JAILD_PYTHON:-/usr/bin/python3.11}
if [ -z "${JAILD_NODE:-}" ]; then
  if [ -x /opt/jaild/interpreters/node-24.21.0/bin/node ]; then
    JAILD_NODE=/opt/jaild/interpreters/node-24.21.0/bin/node
  else
    JAILD_NODE=$(command -v node || echo node)
  fi
fi
NODE=$JAILD_NODE
APY=${ASSERT_PYTHON:-python3}
PY_RUNNER=$HERE/python.py
NODE_RUNNER=$HERE/node.cjs

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkfifo "$TMP/fifo"  # fd 4 is a pipe, as in the jail
passed=0
failed=0

for tool in "$PY" "$NODE" "$APY"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test_runners: interpreter not found: $tool" >&2
    exit 2
  fi
done
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 24 ]; then
  echo "test_runners: $NODE is Node $node_major; Node >= 24 is needed (set JAILD_NODE)" >&2
  exit 2
fi
echo "python: $("$PY" --version 2>&1) ($PY)"
echo "node:   $("$NODE" --version) ($NODE)"

# job LANG FILENAME CODE INPUT BLOCKED DYNAMIC
#   INPUT: JSON text, "@file" to read a JSON file, or "py:<expr>" to build it.
#   BLOCKED: comma-separated module names.  DYNAMIC: true|false.
job() {
  "$APY" - "$@" >"$TMP/job.json" <<'EOF'
import json, sys
lang, filename, code, inp, blocked, dyn = sys.argv[1:7]
if inp.startswith("@"):
    value = json.load(open(inp[1:]))
elif inp.startswith("py:"):
    value = eval(inp[3:])
else:
    value = json.loads(inp)
print(json.dumps({
    "v": 1, "language": lang, "filename": filename, "code": code, "input": value,
    "policy": {"blocked_modules": [b for b in blocked.split(",") if b],
               "dynamic_code": dyn == "true"},
}))
EOF
}

# run_py / run_node: run the runner on $TMP/job.json; fd 4 -> fifo -> res.json,
# stdout through a pipe -> out, stderr -> err; sets $rc and $elapsed.
run_py() {
  local t0 t1
  : >"$TMP/res.json"
  t0=$(date +%s%N)
  cat "$TMP/fifo" >"$TMP/res.json" &
  "$PY" -I -S -B "$PY_RUNNER" 3<"$TMP/job.json" 4>"$TMP/fifo" 2>"$TMP/err" | cat >"$TMP/out"
  rc=${PIPESTATUS[0]}
  wait
  t1=$(date +%s%N)
  elapsed=$(( (t1 - t0) / 1000000 ))
}

run_node() {  # extra node flags as arguments
  local t0 t1
  : >"$TMP/res.json"
  t0=$(date +%s%N)
  cat "$TMP/fifo" >"$TMP/res.json" &
  "$NODE" "$@" "$NODE_RUNNER" 3<"$TMP/job.json" 4>"$TMP/fifo" 2>"$TMP/err" | cat >"$TMP/out"
  rc=${PIPESTATUS[0]}
  wait
  t1=$(date +%s%N)
  elapsed=$(( (t1 - t0) / 1000000 ))
}

# expect NAME < python-assertions
#   In scope: r (result dict, or None if fd 4 got nothing), e (r["error"] or
#   {}), rc, out, err, elapsed (ms).  Common invariants are checked as well.
expect() {
  local name=$1 snippet
  snippet=$(cat)
  if "$APY" - "$name" "$rc" "$elapsed" "$TMP" "$HERE" "$snippet" <<'EOF'; then
import json, sys
name, rc, elapsed, tmp, here, snippet = sys.argv[1:7]
rc, elapsed = int(rc), int(elapsed)
raw = open(tmp + "/res.json", encoding="utf-8").read()
out = open(tmp + "/out", encoding="utf-8", errors="replace").read()
err = open(tmp + "/err", encoding="utf-8", errors="replace").read()
problems = []
r = None
# The runner's first line says it waits for its job; the result follows it.
for ready in ('{"v": 1, "ready": true}\n', '{"v":1,"ready":true}\n'):
    if raw.startswith(ready):
        raw = raw[len(ready):]
        break
else:
    if raw:
        problems.append("the result pipe does not start with the ready line: %r" % raw[:80])
if raw:
    try:
        r = json.loads(raw)
    except ValueError as exc:
        problems.append("result is not one JSON object: %s: %r" % (exc, raw[:300]))
if isinstance(r, dict):
    if set(r) not in ({"v", "ok", "result", "violations"}, {"v", "ok", "error", "violations"}):
        problems.append("unexpected result keys %s" % sorted(r))
    elif r["v"] != 1:
        problems.append("runner protocol version %r" % r["v"])
    if False:
        problems.append("unexpected result keys %s" % sorted(r))
    if r.get("ok") is True and rc != 0:
        problems.append("ok result but exit status %d" % rc)
    if r.get("ok") is False and rc == 0:
        problems.append("failed result but exit status 0")
    for v in r.get("violations", []):
        if set(v) != {"kind", "detail"} or v["kind"] not in ("blocked_module", "dynamic_code"):
            problems.append("bad violation %r" % (v,))
e = (r or {}).get("error") or {}
if e:
    if set(e) != {"type", "message", "traceback"}:
        problems.append("unexpected error keys %s" % sorted(e))
    tb = e.get("traceback", "")
    for leak in ("runner.py", "runner.cjs", "/jaild/", "node:internal", here):
        if leak in tb:
            problems.append("traceback leaks %r" % leak)
if "ExperimentalWarning" in err:
    problems.append("runner's ExperimentalWarning on stderr")
if not problems:
    try:
        exec(compile(snippet, "<expect " + name + ">", "exec"),
             {"r": r, "e": e, "rc": rc, "out": out, "err": err, "elapsed": elapsed})
    except AssertionError as exc:
        import traceback
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problems.append("assertion failed: %s %s" % (frame.line, exc))
    except Exception as exc:
        problems.append("check raised %s: %s" % (type(exc).__name__, exc))
if problems:
    print("FAIL %s" % name)
    for p in problems:
        print("     " + p)
    print("     rc=%d result=%s" % (rc, raw[:1500]))
    print("     stdout=%r" % out[:300])
    print("     stderr=%r" % err[:600])
    sys.exit(1)
print("ok   %s (%d ms)" % (name, elapsed))
EOF
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

SUBPROCESS=subprocess,multiprocessing
NODE_BLOCKED=child_process,cluster,worker_threads,net,dgram,http,https,http2,tls,dns,inspector,vm,v8,wasi

############################################################ Python

job python script.py 'import sys
print("to stdout")
print("to stderr", file=sys.stderr)
result = {"sum": input["a"] + input["b"], "name": input["name"]}' '{"a": 2, "b": 40, "name": "é✓"}' "$SUBPROCESS" true
run_py
expect "py: ok result, stdout/stderr separated" <<'EOF'
assert rc == 0 and r["ok"] is True
assert r["result"] == {"sum": 42, "name": "é✓"}, r
assert r["violations"] == []
assert out == "to stdout\n", out
assert err == "to stderr\n", err
EOF

job python script.py 'x = 1' 'null' '' true
run_py
expect "py: no result variable -> null" <<'EOF'
assert rc == 0 and r == {"v": 1, "ok": True, "result": None, "violations": []}, r
EOF

job python script.py 'def inner(d):
    total = 0
    for k in d:
        total += d[k]
    return total / len(d) / 0

def outer():
    return inner({"a": 1})

result = outer()' 'null' "$SUBPROCESS" true
run_py
expect "py: exception traceback has only script frames, right lines" <<'EOF'
assert rc == 1 and r["ok"] is False
assert e["type"] == "ZeroDivisionError" and e["message"] == "float division by zero", e
tb = e["traceback"]
assert tb.startswith("Traceback (most recent call last):\n"), tb
assert 'File "script.py", line 10, in <module>' in tb, tb
assert 'File "script.py", line 8, in outer' in tb, tb
assert 'File "script.py", line 5, in inner' in tb, tb
assert "return total / len(d) / 0" in tb, tb
assert tb.count('File "') == 3, tb
assert tb.endswith("ZeroDivisionError: float division by zero\n"), tb
EOF

job python script.py 'import json
class Invalid(Exception):
    pass
try:
    json.loads("{")
except ValueError as exc:
    raise Invalid("bad input") from exc' 'null' '' true
run_py
expect "py: exception type names and chained traceback" <<'EOF'
assert e["type"] == "Invalid", e
tb = e["traceback"]
assert "json.decoder.JSONDecodeError: Expecting property name" in tb, tb
assert "direct cause of the following exception" in tb, tb
assert 'File "script.py", line 5, in <module>' in tb and 'File "script.py", line 7, in <module>' in tb, tb
assert "json/" not in tb and "decoder.py" not in tb, tb
EOF

job python script.py 'import json
json.loads("[1,")' 'null' '' true
run_py
expect "py: stdlib exception type is module-qualified" <<'EOF'
assert e["type"] == "json.decoder.JSONDecodeError", e
EOF

job python script.py 'x = 1
def f():
    return (1,
y = 2' 'null' '' true
run_py
expect "py: syntax error shows file, line and caret" <<'EOF'
assert rc == 1 and e["type"] == "SyntaxError", e
tb = e["traceback"]
assert 'File "script.py", line 3' in tb, tb
assert "return (1," in tb and "^" in tb, tb
assert "Traceback" not in tb, tb
EOF

job python script.py 'result = {"s": {1, 2}}' 'null' '' true
run_py
expect "py: non-serializable result (set)" <<'EOF'
assert rc == 1 and e["type"] == "ResultError", e
assert "set" in e["message"], e
EOF

job python script.py 'result = [float("nan")]' 'null' '' true
run_py
expect "py: non-serializable result (NaN)" <<'EOF'
assert e["type"] == "ResultError" and "float" in e["message"], e
EOF

job python script.py 'class Point:
    pass
result = {"p": Point()}' 'null' '' true
run_py
expect "py: non-serializable result names the class" <<'EOF'
assert e["type"] == "ResultError" and "Point" in e["message"], e
EOF

job python script.py 'import sys
result = "fine"
print("bye")
sys.exit(0)
result = "unreached"' 'null' '' true
run_py
expect "py: SystemExit(0) is success" <<'EOF'
assert rc == 0 and r["result"] == "fine" and out == "bye\n", (r, out)
EOF

job python script.py 'import sys
def quit():
    sys.exit(3)
quit()' 'null' '' true
run_py
expect "py: SystemExit(3) exits 3" <<'EOF'
assert rc == 3 and e["type"] == "SystemExit" and e["message"] == "3", (rc, e)
assert 'File "script.py", line 3, in quit' in e["traceback"], e
EOF

job python script.py 'raise SystemExit("went away")' 'null' '' true
run_py
expect "py: SystemExit(str) exits 1" <<'EOF'
assert rc == 1 and e["type"] == "SystemExit" and e["message"] == "went away", (rc, e)
EOF

job python script.py 'raise KeyboardInterrupt' 'null' '' true
run_py
expect "py: KeyboardInterrupt is an error" <<'EOF'
assert rc == 1 and e["type"] == "KeyboardInterrupt", e
EOF

job python script.py 'import subprocess
subprocess.run(["true"])' 'null' "$SUBPROCESS" true
run_py
expect "py: blocked module (import)" <<'EOF'
assert rc == 1 and e["type"] == "ModuleNotFoundError", e
assert e["message"] == "module 'subprocess' is blocked by the jail's policy", e
assert 'File "script.py", line 1, in <module>' in e["traceback"], e
assert r["violations"] == [{"kind": "blocked_module", "detail": "subprocess"}], r
EOF

job python script.py 'import importlib
got = []
for name in ("subprocess", "subprocess", "multiprocessing.pool"):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        got.append(str(exc))
try:
    __import__("subprocess")
except ModuleNotFoundError:
    got.append("dunder")
import json
result = got' 'null' "$SUBPROCESS" true
run_py
expect "py: blocked module caught by the script; violations recorded once" <<'EOF'
assert rc == 0 and r["ok"] is True, r
assert r["result"][0] == "module 'subprocess' is blocked by the jail's policy", r
# the parent package is imported (and refused) first
assert r["result"][2] == "module 'multiprocessing' is blocked by the jail's policy", r
assert r["result"][3] == "dunder", r
assert r["violations"] == [{"kind": "blocked_module", "detail": "subprocess"},
                           {"kind": "blocked_module", "detail": "multiprocessing"}], r
EOF

job python script.py 'import sys
result = ["_json" in sys.modules]
import _json' 'null' "_json,posix" true
run_py
expect "py: module the runner already imported is blocked too" <<'EOF'
assert rc == 1 and e["type"] == "ModuleNotFoundError", e
assert r["violations"] == [{"kind": "blocked_module", "detail": "_json"}], r
EOF

job python script.py 'x = 1
result = eval("x + 1")' 'null' '' false
run_py
expect "py: dynamic code disabled (eval)" <<'EOF'
assert rc == 1 and e["type"] == "PermissionError", e
assert "dynamic code is disabled by the jail's policy" in e["message"], e
assert 'File "script.py", line 2, in <module>' in e["traceback"], e
assert r["violations"] == [{"kind": "dynamic_code", "detail": "eval"}], r
EOF

job python script.py 'import collections, dataclasses
P = collections.namedtuple("P", "a b")
@dataclasses.dataclass
class D:
    x: int
refused = []
for fn in (lambda: exec("y = 1"), lambda: compile("1", "s", "eval")):
    try:
        fn()
    except PermissionError:
        refused.append(True)
result = [list(P(1, 2)), D(3).x, refused]' 'null' '' false
run_py
expect "py: dynamic code disabled for the script only (stdlib namedtuple/dataclass work)" <<'EOF'
assert rc == 0 and r["result"] == [[1, 2], 3, [True, True]], r
assert r["violations"] == [{"kind": "dynamic_code", "detail": "exec"},
                           {"kind": "dynamic_code", "detail": "compile"}], r
EOF

job python script.py 'result = eval("6 * 7")' 'null' '' true
run_py
expect "py: dynamic code allowed" <<'EOF'
assert rc == 0 and r["result"] == 42 and r["violations"] == [], r
EOF

job python script.py 'import sys, __main__
result = {"argv": sys.argv, "main_is_script": __main__.__dict__ is globals(), "file": "__file__" in globals()}' 'null' '' true
run_py
expect "py: script sees itself as __main__, not the runner" <<'EOF'
assert r["result"] == {"argv": ["script.py"], "main_is_script": True, "file": False}, r
EOF

job python script.py 'result = {"len": len(input["blob"]), "items": sum(input["items"]), "echo": input["blob"]}' \
  'py:{"blob": "x" * 1000000, "items": list(range(20000))}' '' true
run_py
expect "py: 1 MB input and 1 MB result" <<'EOF'
assert rc == 0 and r["result"]["len"] == 1000000 and r["result"]["items"] == sum(range(20000)), r["result"]["len"]
assert r["result"]["echo"] == "x" * 1000000
EOF

job python fib.py "$(cat "$ROOT/examples/fib.py")" '{"n": 30}' "$SUBPROCESS" true
run_py
expect "py: examples/fib.py" <<'EOF'
assert rc == 0 and r["result"] == {"n": 30, "fib": 832040}, r
assert out.strip() and len(out) < 200, out
EOF

job python fib.py "$(cat "$ROOT/examples/fib.py")" '{"n": 1000}' "$SUBPROCESS" true
run_py
expect "py: examples/fib.py big int" <<'EOF'
assert str(r["result"]["fib"]).startswith("4346655768693745643568852767504062580256466051737178040248172908953655541794905189040387984007925516929592259308032263477520968962323987332247116164299644090653318793829896964992851600370447613779516684922887"), r
EOF

job python script.py '' 'null' '' true
printf 'not json' >"$TMP/job.json"
run_py
expect "py: bad job is a RunnerError, exit 70" <<'EOF'
assert rc == 70 and e["type"] == "RunnerError", (rc, e)
EOF

############################################################ JavaScript

job javascript script.js 'console.log("to stdout");
console.error("to stderr");
process.stdout.write("x".repeat(200000) + "\n");
return { sum: input.a + input.b, name: input.name };' '{"a": 2, "b": 40, "name": "é✓"}' "$NODE_BLOCKED" true
run_node
expect "js: ok result, stdout/stderr separated (200 KB through a pipe)" <<'EOF'
assert rc == 0 and r["result"] == {"sum": 42, "name": "é✓"} and r["violations"] == [], r
assert out == "to stdout\n" + "x" * 200000 + "\n", len(out)
assert err == "to stderr\n", err
EOF

job javascript script.js 'const x = 1;' 'null' '' true
run_node
expect "js: no return -> null" <<'EOF'
assert rc == 0 and r == {"v": 1, "ok": True, "result": None, "violations": []}, r
EOF

job javascript script.js 'function inner(o) {
  return o.missing.field;
}
async function outer() {
  await null;
  return inner({});
}
return await outer();' 'null' "$NODE_BLOCKED" true
run_node
expect "js: exception traceback has only script frames, right lines" <<'EOF'
assert rc == 1 and e["type"] == "TypeError", e
assert "reading 'field'" in e["message"], e
tb = e["traceback"]
assert tb.startswith("TypeError: Cannot read properties of undefined"), tb
assert "at inner (script.js:2:20)" in tb, tb
assert "at outer (script.js:6:10)" in tb, tb
assert "script.js:8:" in tb, tb
assert "node:" not in tb, tb
EOF

job javascript script.js 'class ValidationError extends Error {}
const bad = () => { throw new ValidationError("nope", { cause: new RangeError("root") }); };
bad();' 'null' '' true
run_node
expect "js: Error subclass type, cause chained" <<'EOF'
assert e["type"] == "ValidationError" and e["message"] == "nope", e
assert "script.js:2:27" in e["traceback"] and "[cause]: RangeError: root" in e["traceback"], e
EOF

job javascript script.js 'const a = 1;
const b = ;
return a;' 'null' '' true
run_node
expect "js: syntax error shows file, line and caret" <<'EOF'
assert rc == 1 and e["type"] == "SyntaxError", e
tb = e["traceback"]
assert tb.startswith("script.js:2\nconst b = ;\n          ^\n"), tb
assert "async function" not in tb, tb
EOF

job javascript script.js 'if (input) {
  return 1;' 'true' '' true
run_node
expect "js: syntax error at end of input does not show the wrapper" <<'EOF'
assert e["type"] == "SyntaxError" and e["message"] == "Unexpected end of input", e
assert e["traceback"].startswith("script.js:2\n  return 1;\n"), e
assert "})" not in e["traceback"], e
EOF

job javascript script.js '#!/usr/bin/env node
const fs = require("fs");
fs.readFileSync("/nonexistent/file");' 'null' '' true
run_node
expect "js: hashbang line allowed; Node's own frames dropped" <<'EOF'
assert rc == 1 and e["type"] == "Error" and "ENOENT" in e["message"], e
assert "script.js:3:4" in e["traceback"] and "node:fs" not in e["traceback"], e
EOF

job javascript script.js 'return { n: 10n };' 'null' '' true
run_node
expect "js: non-serializable result (BigInt)" <<'EOF'
assert rc == 1 and e["type"] == "ResultError" and "BigInt" in e["message"], e
EOF

job javascript script.js 'const a = { b: {} }; a.b.a = a; return a;' 'null' '' true
run_node
expect "js: non-serializable result (cycle)" <<'EOF'
assert rc == 1 and e["type"] == "ResultError" and "circular" in e["message"], e
EOF

job javascript script.js 'return () => 1;' 'null' '' true
run_node
expect "js: non-serializable result (function)" <<'EOF'
assert rc == 1 and e["type"] == "ResultError" and "function" in e["message"], e
EOF

job javascript script.js 'throw { code: 42 };' 'null' '' true
run_node
expect "js: non-Error thrown" <<'EOF'
assert rc == 1 and e["type"] == "NonErrorThrown" and e["message"] == "[object Object]", e
EOF

job javascript script.js 'await new Promise((_, reject) => setTimeout(() => reject(new Error("later")), 10));' 'null' '' true
run_node
expect "js: rejected promise" <<'EOF'
assert rc == 1 and e["type"] == "Error" and e["message"] == "later", e
assert "script.js:1:" in e["traceback"], e
EOF

job javascript script.js 'setTimeout(() => { null.x; }, 5);
await new Promise((resolve) => setTimeout(resolve, 200));
return "unreached";' 'null' '' true
run_node
expect "js: exception in a timer while the script runs" <<'EOF'
assert rc == 1 and e["type"] == "TypeError", e
assert "script.js:1:" in e["traceback"], e
EOF

job javascript script.js 'await new Promise(() => {});' 'null' '' true
run_node
expect "js: promise that never settles" <<'EOF'
assert rc == 1 and e["type"] == "UnsettledPromise", e
EOF

job javascript script.js 'setTimeout(() => console.log("too late"), 60000);
setInterval(() => {}, 1000);
console.log("done");
return "finished";' 'null' '' true
run_node
expect "js: pending timers don't keep a finished script alive" <<'EOF'
assert rc == 0 and r["result"] == "finished", r
assert out == "done\n" and elapsed < 5000, (out, elapsed)
EOF

job javascript script.js 'console.log("before exit");
process.exit(7);' 'null' '' true
run_node
expect "js: process.exit(7) exits 7 without a result" <<'EOF'
assert rc == 7 and r is None, (rc, r)
assert out == "before exit\n", out
EOF

job javascript script.js 'const cp = require("child_process");
return cp.execSync("id").toString();' 'null' "$NODE_BLOCKED" true
run_node
expect "js: blocked module (require)" <<'EOF'
assert rc == 1 and e["type"] == "Error", e
assert e["message"] == "module 'child_process' is blocked by the jail's policy", e
assert "script.js:1:" in e["traceback"], e
assert r["violations"] == [{"kind": "blocked_module", "detail": "child_process"}], r
EOF

job javascript script.js 'const cp = await import("child_process");
return typeof cp.spawn;' 'null' "$NODE_BLOCKED" true
run_node
expect "js: blocked module (dynamic import)" <<'EOF'
assert rc == 1 and e["message"] == "module 'child_process' is blocked by the jail's policy", e
assert r["violations"] == [{"kind": "blocked_module", "detail": "child_process"}], r
EOF

job javascript script.js 'const refused = [];
const tries = {
  nodeRequire: () => require("node:child_process"),
  nodeImport: () => import("node:child_process"),
  builtin: () => process.getBuiltinModule("node:net"),
  sub: () => require("dns/promises"),
  binding: () => process.binding("spawn_sync"),
  dlopen: () => process.dlopen({}, "/x.node"),
};
for (const [name, fn] of Object.entries(tries)) {
  try { await fn(); } catch (err) { if (/blocked by the jail/.test(err.message)) refused.push(name); }
}
const os = await import("node:os");
const fs = require("fs");
return { refused, os: typeof os.cpus, fs: typeof fs.readFileSync };' 'null' "$NODE_BLOCKED" true
run_node
expect "js: blocked modules via every path; others allowed" <<'EOF'
assert rc == 0, r
assert r["result"] == {"refused": ["nodeRequire", "nodeImport", "builtin", "sub", "binding", "dlopen"],
                       "os": "function", "fs": "function"}, r
details = [v["detail"] for v in r["violations"]]
assert details == ["child_process", "net", "dns/promises", "process.binding", "process.dlopen"], details
EOF

job javascript script.js 'const x = 2;
return eval("x * 21");' 'null' "$NODE_BLOCKED" false
run_node --disallow-code-generation-from-strings
expect "js: dynamic code disabled (eval, with the flag)" <<'EOF'
assert rc == 1 and e["type"] == "EvalError", e
assert "Code generation from strings disallowed" in e["message"], e
assert "script.js:2:" in e["traceback"], e
assert r["violations"] == [{"kind": "dynamic_code", "detail": "eval"}], r
EOF

job javascript script.js 'const out = [];
try { new Function("return 1"); } catch (err) { out.push(err.name); }
try { (async () => {}).constructor("return 1"); } catch (err) { out.push(err.name); }
try { setTimeout("1"); } catch (err) { out.push(err.name); }
out.push(typeof function () {}, [1, 2].map((v) => v * 2).join());
return out;' 'null' '' false
run_node --disallow-code-generation-from-strings
expect "js: dynamic code disabled (Function, AsyncFunction), normal code runs" <<'EOF'
assert rc == 0 and r["result"] == ["EvalError", "EvalError", "TypeError", "function", "2,4"], r
assert {"kind": "dynamic_code", "detail": "Function"} in r["violations"], r
EOF

job javascript script.js '(function () {}).constructor("return 1")();' 'null' '' false
run_node --disallow-code-generation-from-strings
expect "js: V8's own refusal is reported as a violation" <<'EOF'
assert rc == 1 and e["type"] == "EvalError", e
assert r["violations"] == [{"kind": "dynamic_code", "detail": "code generation from strings"}], r
EOF

job javascript script.js 'return eval("6 * 7");' 'null' '' true
run_node
expect "js: dynamic code allowed" <<'EOF'
assert rc == 0 and r["result"] == 42 and r["violations"] == [], r
EOF

job javascript script.js 'process.emitWarning("from the script");
return typeof module + "," + typeof exports + "," + typeof require;' 'null' '' true
run_node
expect "js: script's own warnings still shown; no module/exports" <<'EOF'
assert r["result"] == "undefined,undefined,function", r
assert "Warning: from the script" in err, err
EOF

job javascript script.js 'return { len: input.blob.length, items: input.items.reduce((a, b) => a + b, 0), echo: input.blob };' \
  'py:{"blob": "x" * 1000000, "items": list(range(20000))}' '' true
run_node
expect "js: 1 MB input and 1 MB result" <<'EOF'
assert rc == 0 and r["result"]["len"] == 1000000 and r["result"]["items"] == sum(range(20000))
assert r["result"]["echo"] == "x" * 1000000
EOF

job javascript hello.js "$(cat "$ROOT/examples/hello.js")" '{"name": "jaild"}' "$NODE_BLOCKED" true
run_node
expect "js: examples/hello.js" <<'EOF'
assert rc == 0 and r["result"]["greeting"] == "hello, jaild", r
assert out == "hello, jaild!\n", out
EOF

printf '{"language": "cobol", "code": ""}' >"$TMP/job.json"
run_node
expect "js: bad job is a RunnerError, exit 70" <<'EOF'
assert rc == 70 and e["type"] == "RunnerError", (rc, e)
EOF

############################################################ TypeScript

job typescript script.ts 'interface Point { x: number; y: number }
type Pair<T> = [T, T];
function swap<T>(p: Pair<T>): Pair<T> { return [p[1], p[0]]; }
const p: Point = { x: input.x as number, y: 2 };
const s: Pair<number> = swap<number>([p.x, p.y]);
console.log("swapped");
return { s, sum: s.reduce((a: number, b: number): number => a + b, 0) };' '{"x": 1}' "$NODE_BLOCKED" true
run_node
expect "ts: types stripped, result, no ExperimentalWarning" <<'EOF'
assert rc == 0 and r["result"] == {"s": [2, 1], "sum": 3}, r
assert out == "swapped\n" and err == "", (out, err)
EOF

job typescript script.ts 'interface Box<T> {
  value: T;
}
function open<T>(b: Box<T>): T {
  if (b.value === undefined) throw new RangeError("empty box");
  return b.value;
}
const empty: Box<number> = { value: undefined as unknown as number };
return open<number>(empty);' 'null' '' true
run_node
expect "ts: exception line numbers survive stripping" <<'EOF'
assert rc == 1 and e["type"] == "RangeError", e
assert "at open (script.ts:5:36)" in e["traceback"], e
assert "script.ts:9:" in e["traceback"], e
EOF

job typescript script.ts 'const a: number = 1;
const b: = 2;' 'null' '' true
run_node
expect "ts: type syntax error shows file, line and caret" <<'EOF'
assert rc == 1 and e["type"] == "SyntaxError", e
assert e["traceback"].startswith("script.ts:2\nconst b: = 2;\n         ^\n"), e
assert "async function" not in e["traceback"], e
EOF

job typescript script.ts 'enum Color { Red }
return Color.Red;' 'null' '' true
run_node
expect "ts: non-erasable syntax is a SyntaxError" <<'EOF'
assert rc == 1 and e["type"] == "SyntaxError" and "enum" in e["message"], e
assert e["traceback"].startswith("script.ts:1\nenum Color { Red }\n^"), e
EOF

job typescript script.ts 'const f = (s: string): number => s.length;
return eval("f(\"abc\")");' 'null' "$NODE_BLOCKED" false
run_node --disallow-code-generation-from-strings
expect "ts: stripping works with code generation disallowed; eval refused" <<'EOF'
assert rc == 1 and e["type"] == "EvalError", e
assert "script.ts:2:" in e["traceback"], e
assert r["violations"] == [{"kind": "dynamic_code", "detail": "eval"}], r
EOF

job typescript word_count.ts "$(cat "$ROOT/examples/word_count.ts")" "@$ROOT/examples/data.json" "$NODE_BLOCKED" false
run_node --disallow-code-generation-from-strings
expect "ts: examples/word_count.ts with examples/data.json" <<'EOF'
assert rc == 0, r
res = r["result"]
assert res["documents"] == 3 and len(res["top"]) == 10, res
assert res["top"][0] == {"word": "the", "count": res["top"][0]["count"]} and res["top"][0]["count"] >= 10, res
counts = [w["count"] for w in res["top"]]
assert counts == sorted(counts, reverse=True), counts
assert err == "", err
EOF

job typescript word_count.ts "$(cat "$ROOT/examples/word_count.ts")" '{"text": "b a b c b a"}' '' true
run_node
expect "ts: examples/word_count.ts with text" <<'EOF'
assert r["result"]["top"] == [{"word": "b", "count": 3}, {"word": "a", "count": 2}, {"word": "c", "count": 1}], r
EOF

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
