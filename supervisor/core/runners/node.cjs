'use strict';
// jaild's trusted in-jail JavaScript/TypeScript runner.
//
// Embedded in the supervisor and written read-only into the jail as
// /jaild/runner.cjs; run as
//   node [--disallow-code-generation-from-strings] /jaild/runner.cjs [typescript]
// (the flag when the job's policy has dynamic_code=false; "typescript" for a
// TypeScript profile: the runner loads the type stripper before it is ready,
// so that a warm jail's job does not pay for it).  Node 24.
//
// Protocol (version 1; supervisor/core/src/run/job.rs is the other side):
//   fd 3 (read):  the job, one line of JSON
//                 {"v": 1, "language": "javascript"|"typescript", "filename": "script.js",
//                  "code": "...", "input": <JSON>, "policy": {"blocked_modules": [...],
//                  "dynamic_code": true|false}}
//                 read to the end, then closed; another version is refused.
//   fd 4 (write): first, once the runner is up and about to read its job, one line
//                 {"v": 1, "ready": true}
//                 (a warm jail waits for it); then the result, one JSON object
//                 written once, then closed:
//                 {"v": 1, "ok": true, "result": <JSON>, "violations": [...]}
//                 {"v": 1, "ok": false, "error": {"type", "message", "traceback"},
//                  "violations": [...]}
//   fd 1/2:       the script's stdout/stderr, drained before the result is written.
//   exit status:  0 when ok, 1 when the script threw (or its result could not be
//                 serialized), 70 when the runner itself failed (bad job).  A
//                 script calling process.exit(n) exits with n and no result.
//
// The code is the body of an async function (input, require) => ...; its
// awaited return value is the result (undefined -> null).  TypeScript is
// reduced to JavaScript with module.stripTypeScriptTypes (strip mode: types
// become whitespace, so lines and columns are kept).
//
// Error "type": err.name, or the constructor's name for an Error subclass that
// kept the default name "Error"; "NonErrorThrown" for a thrown non-Error.
// Tracebacks keep err.stack minus every runner frame and every frame inside
// Node itself (node:...).
//
// The runner must look ordinary to the jail's seccomp allowlist: no child
// processes, no workers, no sockets, no file writes except fd 4, no file reads
// except fd 3.
//
// The policy layer below (blocked modules, process.binding/dlopen, eval and
// Function wrappers) is NOT the security boundary: a determined script can get
// around it from inside the VM.  The boundary is the jail (namespaces, Landlock,
// seccomp, no network); for dynamic code the real refusal is V8's
// --disallow-code-generation-from-strings.  The policy only makes refusals
// clean and reports them.

const fs = require('node:fs');
const vm = require('node:vm');
const Module = require('node:module');
const path = require('node:path');

const JOB_FD = 3;
const RESULT_FD = 4;
const EXIT_RUNNER_FAILED = 70;
const MAX_VIOLATIONS = 100;
const PROTOCOL = 1;
const RUNNER_FILE = __filename;
const CODEGEN_DISALLOWED = 'Code generation from strings disallowed';

// The script shares this realm: keep our own references to what the runner
// uses after the script ran.
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;
const writeSync = fs.writeSync;
const closeSync = fs.closeSync;
const processExit = process.exit;
const originalEmitWarning = process.emitWarning;
const ErrorCtor = Error;
const EvalErrorCtor = EvalError;
const objectToString = Object.prototype.toString;
const reflectApply = Reflect.apply;
const bufferFrom = Buffer.from.bind(Buffer);

// The runner's own use of experimental APIs must not print ExperimentalWarnings
// into the script's stderr; every other warning (the script's) goes through.
const RUNNER_WARNINGS = /^(stripTypeScriptTypes|vm\.USE_MAIN_CONTEXT_DEFAULT_LOADER|module\.registerHooks) is an experimental feature/;
process.emitWarning = function emitWarning(warning, ...rest) {
  const text = typeof warning === 'string' ? warning : (warning && warning.message);
  if (typeof text === 'string' && RUNNER_WARNINGS.test(text)) return;
  return reflectApply(originalEmitWarning, process, [warning, ...rest]);
};

// ---------------------------------------------------------------- results

let finished = false;

function safeString(value) {
  try {
    return String(value);
  } catch {
    try {
      return objectToString.call(value);
    } catch {
      return '<unprintable>';
    }
  }
}

function writeAll(fd, text) {
  const buf = bufferFrom(text, 'utf8');
  let off = 0;
  let sleeper = null;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err && err.code === 'EAGAIN') {
        // A non-blocking pipe that is full: wait a little, without threads.
        sleeper = sleeper || new Int32Array(new SharedArrayBuffer(4));
        Atomics.wait(sleeper, 0, 0, 2);
        continue;
      }
      if (err && err.code === 'EINTR') continue;
      throw err;
    }
  }
}

// Wait until what the script wrote to stdout/stderr has left the process.
// (Pipes and files are written synchronously on Linux, so this is normally
// immediate; it matters if a stream still buffers.)
function drainStdio(done) {
  const streams = [process.stdout, process.stderr].filter(
    (s) => s && !s.destroyed && s.writableLength > 0);
  let left = streams.length;
  if (left === 0) return done();
  const one = () => { if (--left === 0) done(); };
  for (const s of streams) {
    let called = false;
    const fire = () => { if (!called) { called = true; one(); } };
    s.once('drain', fire);
    s.once('error', fire);
    s.once('close', fire);
  }
}

function finish(payload, status) {
  if (finished) return;
  finished = true;
  drainStdio(() => {
    try {
      writeAll(RESULT_FD, payload);
      closeSync(RESULT_FD);
    } catch {
      status = status || EXIT_RUNNER_FAILED;
    }
    // Exit at once: pending timers or handles don't keep a finished script alive.
    reflectApply(processExit, process, [status]);
  });
}

function runnerFailure(message) {
  return jsonStringify({
    v: PROTOCOL,
    ok: false,
    error: { type: 'RunnerError', message, traceback: '' },
    violations: [],
  });
}

// ---------------------------------------------------------------- policy

const violations = [];
const seenViolations = new Set();

function record(kind, detail) {
  const key = kind + '\0' + detail;
  if (seenViolations.has(key) || violations.length >= MAX_VIOLATIONS) return;
  seenViolations.add(key);
  violations.push({ kind, detail });
}

function stripNodePrefix(name) {
  return name.startsWith('node:') ? name.slice(5) : name;
}

function installModulePolicy(blockedList) {
  const blocked = [];
  for (const name of blockedList) {
    const n = stripNodePrefix(safeString(name));
    if (n) blocked.push(n);
  }
  if (blocked.length === 0) return;

  const blockedName = (specifier) => {
    if (typeof specifier !== 'string') return null;
    const s = stripNodePrefix(specifier);
    if (s.startsWith('.') || s.startsWith('/') || s.startsWith('file:')) return null;
    for (const b of blocked) {
      if (s === b || s.startsWith(b + '/')) return s;
    }
    return null;
  };
  const refuse = (what, message) => {
    record('blocked_module', what);
    const err = new ErrorCtor(message);
    err.code = 'ERR_JAIL_BLOCKED_MODULE';
    throw err;
  };
  const check = (specifier) => {
    const name = blockedName(specifier);
    if (name !== null) refuse(name, `module '${name}' is blocked by the jail's policy`);
  };

  // import() (and require() too) of any module, from the script or from any
  // module it loads: Node 24's synchronous in-thread resolve hook.
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({
      resolve(specifier, context, nextResolve) {
        check(specifier);
        return nextResolve(specifier, context);
      },
    });
  }
  // require(): the CommonJS loader's single entry point.
  const originalLoad = Module._load;
  Module._load = function _load(request, parent, isMain) {
    check(request);
    return reflectApply(originalLoad, this, [request, parent, isMain]);
  };
  // process.getBuiltinModule() goes around both loaders.
  if (typeof process.getBuiltinModule === 'function') {
    const originalGetBuiltin = process.getBuiltinModule;
    process.getBuiltinModule = function getBuiltinModule(id) {
      check(id);
      return reflectApply(originalGetBuiltin, process, [id]);
    };
  }
  // Escape hatches around any module policy: raw bindings and native addons.
  for (const name of ['binding', '_linkedBinding', 'dlopen']) {
    if (typeof process[name] !== 'function') continue;
    const what = 'process.' + name;
    process[name] = function blocked() {
      refuse(what, `${what} is blocked by the jail's policy`);
    };
  }
}

function installDynamicCodePolicy() {
  // With --disallow-code-generation-from-strings V8 itself refuses eval and
  // every Function constructor.  These wrappers only make the common
  // spellings (eval(...), Function(...), new Function(...)) report a
  // violation even when the script catches the EvalError.
  const message = `${CODEGEN_DISALLOWED}: dynamic code is disabled by the jail's policy`;
  const refuseEval = function () {
    record('dynamic_code', 'eval');
    throw new EvalErrorCtor(message);
  };
  Object.defineProperty(refuseEval, 'name', { value: 'eval' });
  globalThis.eval = refuseEval;
  const refuseFunction = () => {
    record('dynamic_code', 'Function');
    throw new EvalErrorCtor(message);
  };
  globalThis.Function = new Proxy(Function, {
    apply: refuseFunction,
    construct: refuseFunction,
  });
}

// ---------------------------------------------------------------- errors

const FRAME = /^\s*at\s/;

function isRunnerOrNodeFrame(line) {
  return line.includes(RUNNER_FILE) || /\brunner\.cjs\b/.test(line) || /(?:\(|\s)node:[\w/.-]+(?::\d+){0,2}\)?\s*$/.test(line);
}

function cleanStack(stack) {
  return stack.split('\n').filter((line) => !(FRAME.test(line) && isRunnerOrNodeFrame(line))).join('\n');
}

function isErrorLike(value) {
  if (value instanceof ErrorCtor) return true;
  try {
    return objectToString.call(value) === '[object Error]';
  } catch {
    return false;
  }
}

function errorType(err) {
  let name;
  try { name = err.name; } catch { name = undefined; }
  if (typeof name === 'string' && name && name !== 'Error') return name;
  let ctor;
  try { ctor = err.constructor && err.constructor.name; } catch { ctor = undefined; }
  if (typeof ctor === 'string' && ctor) return ctor;
  return 'Error';
}

function describe(err, job) {
  if (!isErrorLike(err)) {
    return { type: 'NonErrorThrown', message: safeString(err), traceback: '' };
  }
  let message;
  try { message = safeString(err.message); } catch { message = ''; }
  const type = errorType(err);
  let stack;
  try { stack = err.stack; } catch { stack = undefined; }
  let traceback = typeof stack === 'string' ? stack : `${type}: ${message}`;
  if (job.syntaxPhase) {
    ({ traceback, message } = syntaxTraceback(traceback, type, message, job));
  } else {
    traceback = cleanStack(traceback);
    // Chained causes, like Python's "direct cause" sections.
    let cause = err;
    for (let depth = 0; depth < 5; depth++) {
      try { cause = cause.cause; } catch { break; }
      if (cause === undefined) break;
      let text;
      if (isErrorLike(cause)) {
        let causeStack;
        try { causeStack = cause.stack; } catch { causeStack = undefined; }
        text = typeof causeStack === 'string'
          ? cleanStack(causeStack)
          : `${errorType(cause)}: ${safeString(cause.message)}`;
      } else {
        text = safeString(cause);
      }
      traceback += `\n  [cause]: ${text.split('\n').join('\n  ')}`;
      if (!isErrorLike(cause)) break;
    }
  }
  if (traceback && !traceback.endsWith('\n')) traceback += '\n';
  if (err instanceof EvalErrorCtor && message.includes(CODEGEN_DISALLOWED) && job.dynamicCodeOff
      && !violations.some((v) => v.kind === 'dynamic_code')) {
    record('dynamic_code', 'code generation from strings');
  }
  return { type, message, traceback };
}

// A syntax error found while compiling: show "file:line", the user's line and
// a caret, never the wrapper the runner puts around the code.
function syntaxTraceback(stack, type, message, job) {
  const lines = stack.split('\n');
  const userLines = job.code.split(/\r\n|\r|\n|\u2028|\u2029/);
  let lineNo = null;
  let caretCol = null;
  let caretText = null;
  let m;
  if (job.tsError) {
    // amaro: ":<line in wrapped code>\n<code frame>\n\nSyntaxError [...]: ..."
    if ((m = /^:(\d+)$/.exec(lines[0]))) lineNo = Number(m[1]) - 1;
  } else if ((m = /^(.*):(\d+)$/.exec(lines[0])) && m[1] === job.filename) {
    // V8 (vm.Script, lineOffset -1): "<file>:<line>\n<source line>\n<caret>\n\n..."
    lineNo = Number(m[2]);
  }
  const caretLine = lines.findIndex((l, i) => i > 0 && i < 12 && /^\s*\^+\s*$/.test(l));
  if (caretLine > 0) {
    caretText = lines[caretLine].trimEnd();
    caretCol = caretText.indexOf('^');
  }
  if (lineNo === null) return { traceback: `${type}: ${message}`, message };
  if (lineNo > userLines.length) {
    // Reported on the wrapper's closing line: unexpected end of input.
    lineNo = userLines.length;
    caretCol = userLines[lineNo - 1].length;
    caretText = null;
    message = 'Unexpected end of input';
  } else if (lineNo < 1) {
    lineNo = 1;
    caretCol = null;
    caretText = null;
  }
  const text = userLines[lineNo - 1];
  let caret = '';
  if (caretText !== null) caret = `${caretText}\n`;
  else if (caretCol !== null) caret = `${' '.repeat(caretCol)}^\n`;
  return { traceback: `${job.filename}:${lineNo}\n${text}\n${caret}\n${type}: ${message}`, message };
}

// ---------------------------------------------------------------- run

function readJob() {
  const text = fs.readFileSync(JOB_FD, 'utf8');
  closeSync(JOB_FD);
  const job = jsonParse(text);
  if (job === null || typeof job !== 'object' || Array.isArray(job)) {
    throw new ErrorCtor('job is not a JSON object');
  }
  if ((job.v === undefined ? PROTOCOL : job.v) !== PROTOCOL) {
    throw new ErrorCtor(`runner protocol version ${jsonStringify(job.v)} (this runner speaks ${PROTOCOL})`);
  }
  if (typeof job.code !== 'string') throw new ErrorCtor("job needs a string 'code'");
  if (job.language !== 'javascript' && job.language !== 'typescript') {
    throw new ErrorCtor(`unsupported language ${jsonStringify(job.language)}`);
  }
  return job;
}

// The user's first line stays line 1: the wrapper's head is a line of its own
// that lineOffset -1 takes away; TypeScript stripping keeps every position.
const HEAD = '(async function (input, require) {\n';
const TAIL = '\n})';

// What every job uses and Node sets up lazily, done before the ready line so that a warm jail's
// job does not pay for it: the stdio streams (a pipe's stream loads the net module), the
// script compiler, createRequire, and for a TypeScript profile the type stripper.
function warmUp() {
  // What process.stdout and process.stderr load when first touched (a pipe is a net.Socket),
  // without touching them: creating them would set O_NONBLOCK on fds 1 and 2, which the
  // script shares (its fs.writeSync(2, ...) would then fail with EAGAIN on a full pipe).
  require('node:net');
  new vm.Script('0', {
    filename: 'warm-up.js',
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }).runInThisContext();
  Module.createRequire(path.resolve('warm-up.js'));
  if (process.argv[2] === 'typescript') {
    // The type stripper's first real input compiles and tiers up most of its code: give it
    // one now, made only of what strip mode accepts.
    Module.stripTypeScriptTypes(
      '(async function (input) {\ninterface P { a: string; b?: number[] }\ntype Q = P | null;\n'
      + 'const n: number = 1; let q: Q = null as Q;\nfunction id<T>(x: T): T { return x; }\n'
      + 'class C { private k: string = ""; m(this: C, v: unknown): v is string { return !!v; } }\n'
      + 'return id<number>(n!) satisfies number;\n})',
      { mode: 'strip' },
    );
  }
}

function main() {
  let job;
  try {
    warmUp();
    writeAll(RESULT_FD, `{"v":${PROTOCOL},"ready":true}\n`);
    job = readJob();
  } catch (err) {
    finish(runnerFailure(`bad job: ${safeString(err && err.message)}`), EXIT_RUNNER_FAILED);
    return;
  }
  const policy = (job.policy && typeof job.policy === 'object') ? job.policy : {};
  const state = {
    filename: typeof job.filename === 'string' && job.filename
      ? job.filename
      : (job.language === 'typescript' ? 'script.ts' : 'script.js'),
    code: job.code,
    dynamicCodeOff: policy.dynamic_code === false,
    syntaxPhase: true,
    tsError: false,
  };
  const fail = (err) => {
    let payload;
    try {
      payload = jsonStringify({ v: PROTOCOL, ok: false, error: describe(err, state), violations });
    } catch (e) {
      payload = runnerFailure(`could not describe the error: ${safeString(e)}`);
    }
    finish(payload, 1);
  };

  let fn;
  try {
    // A leading "#!" line is a comment in a script file but a syntax error in
    // a function body: turn it into "//" (same length, positions kept).
    const code = job.code.startsWith('#!') ? '//' + job.code.slice(2) : job.code;
    let wrapped = HEAD + code + TAIL;
    if (job.language === 'typescript') {
      state.tsError = true;
      wrapped = Module.stripTypeScriptTypes(wrapped, { mode: 'strip' });
      state.tsError = false;
    }
    const script = new vm.Script(wrapped, {
      filename: state.filename,
      lineOffset: -1,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    fn = script.runInThisContext();
  } catch (err) {
    fail(err);
    return;
  }
  state.syntaxPhase = false;

  const scriptRequire = Module.createRequire(path.resolve(state.filename));
  try {
    installModulePolicy(Array.isArray(policy.blocked_modules) ? policy.blocked_modules : []);
    if (state.dynamicCodeOff) installDynamicCodePolicy();
  } catch (err) {
    finish(runnerFailure(`could not install the policy: ${safeString(err && err.message)}`), EXIT_RUNNER_FAILED);
    return;
  }

  // An exception thrown from a timer or callback, or a promise rejection
  // nobody handled, while the script is still running fails the job.
  process.on('uncaughtException', fail);
  // The event loop ran dry but the script's promise never settled.
  process.on('beforeExit', () => {
    const err = new ErrorCtor("the script's promise never settled (nothing left to wait for)");
    err.name = 'UnsettledPromise';
    err.stack = `UnsettledPromise: ${err.message}`;
    fail(err);
  });

  const onResult = (value) => {
    let text;
    let problem = null;
    try {
      text = jsonStringify(value === undefined ? null : value);
      if (text === undefined) problem = `value of type ${typeof value}`;
    } catch (err) {
      problem = safeString(err && err.message);
    }
    if (problem !== null) {
      finish(jsonStringify({
        v: PROTOCOL,
        ok: false,
        error: { type: 'ResultError', message: `result is not JSON-serializable: ${problem}`, traceback: '' },
        violations,
      }), 1);
      return;
    }
    finish(`{"v":${PROTOCOL},"ok":true,"result":${text},"violations":${jsonStringify(violations)}}`, 0);
  };

  let promise;
  try {
    promise = fn(job.input === undefined ? null : job.input, scriptRequire);
  } catch (err) {
    fail(err);
    return;
  }
  promise.then(onResult, fail);
}

main();
