'use strict';
// compat/node-bare.js: runs a jail-style JavaScript script outside the jail, for compat/run's
// bare side:  node node-bare.js SCRIPT.js 'INPUT-JSON'
//
// As jaild's runner does (supervisor/core/runners/node.cjs): the script is the body of an async
// function (input, require), compiled with vm.Script, with `require` made by createRequire for
// a file named like the script in the working directory; its awaited return value is printed
// as JSON on the last line of stdout after a marker (the tests print to stdout too), then the
// process exits at once.
const fs = require('node:fs');
const vm = require('node:vm');
const path = require('node:path');
const Module = require('node:module');

const MARKER = '@@JAILD-COMPAT-RESULT@@';
const [scriptPath, inputText] = process.argv.slice(2);
const filename = path.basename(scriptPath);
const code = fs.readFileSync(scriptPath, 'utf8');
const fn = new vm.Script('(async function (input, require) {\n' + code + '\n})', {
  filename,
  lineOffset: -1,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
}).runInThisContext();
const done = (text, status) => {
  fs.writeSync(1, `\n${MARKER} ${text}\n`);
  process.exit(status);
};
fn(JSON.parse(inputText), Module.createRequire(path.resolve(filename))).then(
  (value) => done(JSON.stringify(value === undefined ? null : value), 0),
  (err) => {
    fs.writeSync(2, String((err && err.stack) || err) + '\n');
    done('null', 1);
  },
);
