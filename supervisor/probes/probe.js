// jaild verify: the probe suite for JavaScript and TypeScript profiles (supervisor/src/verify.rs).
//
// The body of an async function with `input` and `require` in scope, run as an ordinary script
// inside a real jail of the profile under test with the language policy layer off (verify
// clears blocked_modules for the run, nothing else): what stops a probe is the kernel. It returns,
// probe by probe: {"id": {"ok": true|false, "err": "EACCES"|null, "detail": "..."}, ...}; "ok"
// means the operation succeeded. JavaScript has no raw syscalls: the syscall and memfd probes
// answer {"unsupported": true} and verify relies on the compiled filter for them.
//
// Edge modes (one run each; the verdict of the run is the observation): memory, balloon, pids,
// stdout, sleep, spin.
const fs = require('node:fs');
const path = require('node:path');
const NAME = `jaild-verify-${process.pid}`;

function fail(e, extra) {
  return Object.assign({ ok: false, err: (e && e.code) || (e && e.name) || String(e), detail: String((e && e.message) || e) }, extra || {});
}

function isDir(p) {
  try { return fs.statSync(p).isDirectory(); } catch (e) { return false; }
}

function createIn(p) {
  const fd = fs.openSync(p, 'wx', 0o600);
  try { fs.writeSync(fd, 'probe'); } finally { fs.closeSync(fd); }
  const back = fs.readFileSync(p);
  fs.unlinkSync(p);
  return { ok: true, detail: `created ${p}, wrote and read back ${back.length} bytes, deleted it` };
}

const ops = {
  read(p) {
    if (isDir(p.path)) return { ok: true, detail: `listed ${fs.readdirSync(p.path).length} entries` };
    const fd = fs.openSync(p.path, 'r');
    try {
      const n = fs.readSync(fd, Buffer.alloc(64), 0, 64, null);
      return { ok: true, detail: `read ${n} bytes` };
    } finally { fs.closeSync(fd); }
  },
  write(p) {
    if (isDir(p.path)) return createIn(path.join(p.path, '.' + NAME));
    let exists = true;
    try { fs.lstatSync(p.path); } catch (e) { exists = false; }
    if (exists) {
      fs.closeSync(fs.openSync(p.path, fs.constants.O_WRONLY));
      return { ok: true, detail: `opened ${p.path} for writing` };
    }
    return createIn(p.path);
  },
  exec(p) {
    let made = false;
    if (p.copy_from) { fs.copyFileSync(p.copy_from, p.path); fs.chmodSync(p.path, 0o755); made = true; }
    else if (p.content !== undefined) { fs.writeFileSync(p.path, p.content); fs.chmodSync(p.path, 0o755); made = true; }
    try {
      const r = require('node:child_process').spawnSync(p.path, p.args || [], { stdio: 'ignore', timeout: 5000 });
      if (r.error) return fail(r.error, { detail: 'spawn failed' });
      return { ok: true, detail: `ran, exit status ${r.status === null ? 'signal ' + r.signal : r.status}` };
    } finally {
      if (made) { try { fs.unlinkSync(p.path); } catch (e) { /* gone */ } }
    }
  },
  syscalls() { return { unsupported: true }; },
  memfd_exec() { return { unsupported: true }; },
  async connect(p) {
    if (p.proto === 'udp') {
      const dgram = require('node:dgram');
      return await new Promise((resolve) => {
        let s;
        try { s = dgram.createSocket(p.family === 'inet6' ? 'udp6' : 'udp4'); } catch (e) { resolve(fail(e, { stage: 'socket' })); return; }
        s.on('error', (e) => { try { s.close(); } catch (x) { /* closed */ } resolve(fail(e, { stage: 'socket' })); });
        s.send(Buffer.alloc(12), p.port, p.host, (e) => {
          try { s.close(); } catch (x) { /* closed */ }
          resolve(e ? fail(e, { stage: 'send' }) : { ok: true, detail: `sent a datagram to ${p.host}:${p.port}` });
        });
      });
    }
    const net = require('node:net');
    return await new Promise((resolve) => {
      const s = net.connect({ host: p.host, port: p.port });
      const t = setTimeout(() => { s.destroy(); resolve({ ok: false, err: 'ETIMEDOUT', detail: 'no answer within 1 s' }); }, 1000);
      s.on('connect', () => { clearTimeout(t); s.destroy(); resolve({ ok: true, detail: `connected to ${p.host}:${p.port}` }); });
      s.on('error', (e) => { clearTimeout(t); resolve(fail(e, { stage: 'connect' })); });
    });
  },
  socketpair() { return { unsupported: true }; },
  walk(p) {
    const skip = new Set(p.skip);
    const entries = [];
    const errors = [];
    const todo = ['/'];
    while (todo.length && entries.length < 5000) {
      const d = todo.pop();
      let names;
      try { names = fs.readdirSync(d).sort(); } catch (e) { errors.push(`${d}: ${e.code}`); continue; }
      for (const n of names) {
        const full = path.join(d, n);
        entries.push(full);
        if (skip.has(full)) continue;
        try { if (fs.lstatSync(full).isDirectory()) todo.push(full); } catch (e) { errors.push(`${full}: ${e.code}`); }
      }
    }
    return { ok: true, entries, errors };
  },
  lstat(p) {
    const found = [];
    for (const f of p.paths) { try { fs.lstatSync(f); found.push(f); } catch (e) { /* absent */ } }
    return { ok: true, found, checked: p.paths.length };
  },
  proc() {
    const pids = fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
    return { ok: true, pids, self: process.pid };
  },
  status() {
    const keep = new Set(['Uid', 'Gid', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp']);
    const status = {};
    for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const i = line.indexOf(':');
      if (i > 0 && keep.has(line.slice(0, i))) status[line.slice(0, i)] = line.slice(i + 1).trim().split(/\s+/);
    }
    const map = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
    return { ok: true, status, uid_map: map('/proc/self/uid_map'), gid_map: map('/proc/self/gid_map'), hostname: require('node:os').hostname(), cwd: process.cwd() };
  },
  environ() { return { ok: true, env: Object.assign({}, process.env) }; },
  kill(p) { process.kill(p.pid, p.sig); return { ok: true, detail: `signal ${p.sig} delivered to pid ${p.pid}` }; },
  fill(p) {
    let total = 0; let err = null; const names = [];
    const data = Buffer.alloc(p.chunk, 1);
    try {
      for (let n = 0; total < p.stop; n++) {
        const name = path.join(p.dir, `.${NAME}-fill-${n}`);
        names.push(name);
        const fd = fs.openSync(name, 'w');
        try {
          let off = 0;
          while (off < data.length) { const w = fs.writeSync(fd, data, off, data.length - off); off += w; total += w; }
        } finally { fs.closeSync(fd); }
      }
    } catch (e) { err = e.code || String(e); }
    for (const n of names) { try { fs.unlinkSync(n); } catch (e) { /* gone */ } }
    return { ok: err === null, err, written: total };
  },
  inodes(p) {
    const made = []; let err = null;
    try {
      while (made.length < p.stop) {
        const name = path.join(p.dir, `.${NAME}-i${made.length}`);
        fs.closeSync(fs.openSync(name, 'wx', 0o600));
        made.push(name);
      }
    } catch (e) { err = e.code || String(e); }
    for (const n of made) { try { fs.unlinkSync(n); } catch (e) { /* gone */ } }
    return { ok: err === null, err, created: made.length };
  },
  filesize(p) {
    // RLIMIT_FSIZE raises SIGXFSZ, whose default action would end the probe: with a listener
    // installed the write fails with EFBIG instead.
    process.on('SIGXFSZ', () => {});
    const name = path.join(p.dir, `.${NAME}-big`);
    let total = 0; let err = null;
    const chunk = Buffer.alloc(64 << 10, 1);
    let fd = null;
    try {
      fd = fs.openSync(name, 'w');
      while (total < p.stop) total += fs.writeSync(fd, chunk);
    } catch (e) { err = e.code || String(e); }
    if (fd !== null) fs.closeSync(fd);
    try { fs.unlinkSync(name); } catch (e) { /* gone */ }
    return { ok: err === null, err, written: total };
  },
  open_files(p) {
    const fds = []; let err = null;
    try { while (fds.length < p.stop) fds.push(fs.openSync('/dev/null', 'r')); } catch (e) { err = e.code || String(e); }
    const highest = fds.length ? Math.max(...fds) : -1;
    for (const fd of fds) fs.closeSync(fd);
    return { ok: err === null, err, highest, opened: fds.length };
  },
};

async function main(job) {
  switch (job.mode) {
    case 'probes': {
      const out = {};
      for (const p of job.probes) {
        try { out[p.id] = await ops[p.op](p); } catch (e) { out[p.id] = fail(e); }
      }
      return out;
    }
    case 'stdout':
      await new Promise((resolve) => process.stdout.write('x'.repeat(job.bytes), resolve));
      return job.bytes;
    case 'memory': {
      const xs = [];
      let left = job.bytes;
      while (left > 0) { const n = Math.min(left, 8 << 20); xs.push(Buffer.alloc(n, 1)); left -= n; }
      return xs.reduce((a, b) => a + b.length, 0);
    }
    case 'balloon': {
      const xs = [];
      for (;;) xs.push(Buffer.alloc(8 << 20, 1));
    }
    case 'pids': {
      const cp = require('node:child_process');
      for (;;) {
        try {
          const c = cp.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
          c.on('error', () => {});
        } catch (e) { /* refused */ }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    case 'sleep':
      await new Promise((r) => setTimeout(r, 30000));
      return null;
    case 'spin':
      for (;;) { /* burn CPU */ }
    default:
      throw new Error(`unknown mode ${job.mode}`);
  }
}

return await main(input);
