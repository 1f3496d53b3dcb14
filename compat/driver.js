// compat/driver.js: runs the tape tests of one npm package and returns what happened to each
// assertion. The body of an async function (input, require), as jaild's JavaScript runner runs
// a script; the same file runs both ways (compat/run):
//
//   jailed: jailctl run --profile compat-node driver.js --input '{"package": "minimist", ...}'
//           its return value is the jail's result;
//   bare:   node compat/node-bare.js compat/driver.js '{"package": "minimist", ...}'
//           wraps it the same way and prints the return value as the last line of stdout.
//
// Input:  {"package": "minimist", "root": "/compat/npm"}   root holds node_modules/ (compat/setup)
// Output: {"module": "npm:minimist", "tests": {id: {"outcome", "detail"}}, "files": N,
//          "seconds": S, "node": process.version}
//
// Each test file (PACKAGE/test/**/*.js, sorted) runs in a fresh tape harness of its own, whose
// TAP output is read from the harness's stream (not stdout) and parsed: `# name` opens a test,
// `ok N desc` / `not ok N desc` are assertions (`# SKIP`, `# TODO` directives), and the indented
// YAML block after a `not ok` is its detail. An assertion's id is
// "PACKAGE/FILE > test name > description" (" [2]" for a repeat within one test).
// The test files `require('tape')` by themselves: the module's export is replaced, while a file
// loads and runs, by a function that adds the tests to that file's harness.
const path = require('node:path');
const fs = require('node:fs');

const FILE_TIMEOUT_MS = 120000;
const started = Date.now();
const root = input.root;
const pkg = input.package;
const pkgDir = path.join(root, 'node_modules', pkg);
const tapeIndex = require.resolve(path.join(root, 'node_modules', 'tape'));
const tape = require(tapeIndex);

function testFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.isFile() && e.name.endsWith('.js')) out.push(p);
  }
  return out.sort();
}

let current = null;   // the harness of the file being run
const shim = function test(...args) { return current(...args); };
shim.only = (...args) => current.only(...args);
shim.onFinish = (cb) => current.onFinish(cb);
shim.onFailure = (cb) => current.onFailure(cb);
shim.createStream = (opts) => current.createStream(opts);
shim.skip = tape.skip;
shim.Test = tape.Test;
shim.createHarness = tape.createHarness;
shim.test = shim;
require.cache[tapeIndex].exports = shim;

const tests = {};
function record(id, outcome, detail) {
  let key = id;
  for (let k = 2; key in tests; k++) key = `${id} [${k}]`;
  tests[key] = detail ? { outcome, detail: detail.slice(0, 1600) } : { outcome };
}

// TAP text of one file -> records.
function parseTap(prefix, text) {
  const lines = text.split('\n');
  let testName = '(no test)';
  let last = null;      // the record of the last `not ok`, to attach its YAML block
  let inYaml = false;
  let yaml = [];
  for (const line of lines) {
    if (inYaml) {
      if (/^\s+\.\.\.\s*$/.test(line)) {
        inYaml = false;
        if (last) last.detail = (last.detail + '\n' + yaml.join('\n')).slice(0, 1600);
      } else {
        yaml.push(line);
      }
      continue;
    }
    let m;
    if (/^\s+---\s*$/.test(line)) { inYaml = true; yaml = []; continue; }
    if ((m = /^# (.*)$/.exec(line)) && !/^# (tests|pass|fail|skip|todo) +\d+$/.test(line) && line !== '# ok') {
      testName = m[1];
      continue;
    }
    if ((m = /^(not ok|ok) \d+(?: (.*?))?(?: # (SKIP|TODO)\b(.*))?$/i.exec(line))) {
      const ok = m[1] === 'ok';
      const desc = m[2] || '(no description)';
      const directive = (m[3] || '').toUpperCase();
      let outcome;
      if (directive === 'SKIP') outcome = 'skip';
      else if (directive === 'TODO') outcome = ok ? 'pass' : 'skip';
      else outcome = ok ? 'pass' : 'fail';
      const id = `${prefix} > ${testName} > ${desc}`;
      record(id, outcome, outcome === 'fail' ? line : (directive ? `${directive}${m[4] || ''}` : ''));
      last = outcome === 'fail' ? tests[Object.keys(tests).pop()] : null;
    }
  }
}

const files = testFiles(path.join(pkgDir, 'test'));
for (const file of files) {
  const prefix = `${pkg}/${path.relative(pkgDir, file)}`;
  current = tape.createHarness();
  const stream = current.createStream();
  let text = '';
  stream.on('data', (chunk) => { text += chunk; });
  const done = new Promise((resolve) => {
    stream.on('end', () => resolve('end'));
    setTimeout(() => resolve('timeout'), FILE_TIMEOUT_MS).unref();
  });
  try {
    require(file);
  } catch (err) {
    record(`${prefix} (load)`, 'error', String((err && err.stack) || err));
    continue;
  }
  const how = await done;
  parseTap(prefix, text);
  if (how === 'timeout') record(`${prefix} (timeout)`, 'error', `no end of the TAP stream after ${FILE_TIMEOUT_MS} ms`);
}

return {
  module: `npm:${pkg}`,
  // jaild's runner is /jaild/runner.cjs; compat/node-bare.js runs the bare side.
  jailed: process.argv[1] === '/jaild/runner.cjs',
  tests,
  files: files.length,
  seconds: (Date.now() - started) / 1000,
  node: process.version,
};
