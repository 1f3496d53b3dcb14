#!/usr/bin/env python3
"""jaild against the bare interpreter and the other ways to run a script under confinement.

One run, side by side and interleaved (every variant once per round, so that the drift of a
shared machine falls on all alike):

  latency     per language (python, javascript, typescript): the bare interpreter
              (`python3.11 -c pass`, `node -e 0`), bubblewrap (--unshare-all, the
              interpreter's files read-only), nsjail where installed, `jailctl run` with no
              daemon (cold), jaild cold (POST /v1/runs with wait=true to a daemon without warm
              jails) and jaild warm (the same to a daemon with them); p50, p99, and the median of
              each round's ratio to that round's bare run.
  throughput  trivial scripts with 2 and 8 clients at once for a few seconds each: runs per
              second of the bare interpreter, bubblewrap and jaild cold and warm.
  memory      jaild's RSS, idle; what each warm jail's cgroup is charged while it waits,
              against the interpreter's own RSS.

Not a test: it prints numbers. As root, after `cargo build --release` and
interpreters/install.sh; bubblewrap from the distribution (`apt-get install bubblewrap`),
skipped with a note where absent.

    python3 bench/compare.py [--rounds 30] [--seconds 4]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3.11"
NODE = "/opt/jaild/interpreters/node-24.21.0/bin/node"
ENV = {"PATH": "/usr/bin:/bin"}
CODE = {"python": "result = 1", "javascript": "return 1", "typescript": "const n: number = 1; return n"}
EXT = {"python": "py", "javascript": "js", "typescript": "ts"}


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("jaild", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def post_run(sock, language):
    c = UnixHTTP(sock)
    body = json.dumps({"language": language, "code": CODE[language], "wait": True})
    c.request("POST", "/v1/runs", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        sys.exit(f"jaild answered {r.status}: {data[:300]!r}")
    report = json.loads(data)
    if report["status"] != "ok":
        sys.exit(f"a run failed: {report}")
    return report


def get(sock, path):
    c = UnixHTTP(sock)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return json.loads(data)


def run_argv(argv):
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.decode()[-400:]}")


def timed(f):
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000


def bwrap_argv(interp_argv):
    exe = shutil.which("bwrap")
    if not exe:
        return None
    argv = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if interp_argv[0].startswith("/opt/"):
        argv += ["--ro-bind", "/opt/jaild/interpreters", "/opt/jaild/interpreters"]
    return argv + interp_argv


def nsjail_argv(interp_argv):
    exe = shutil.which("nsjail")
    if not exe:
        return None
    return [exe, "-Mo", "--quiet", "-R", "/usr", "-R", "/lib", "-R", "/lib64", "-R", "/opt", "--"] + interp_argv


class Daemon:
    def __init__(self, jaild, tmp, name, pool_size, base):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "jaild.sock")
        config = os.path.join(self.dir, "jaild.toml")
        with open(config, "w") as f:
            f.write(
                f'socket = "{self.sock}"\nstate_dir = "{self.dir}/state"\nstore = "{self.dir}/history.db"\n'
                f'profiles_dir = "{ROOT}/profiles"\ninterpreters_dir = "{ROOT}/interpreters"\n'
                f"host_id_base = {base}\n[pool]\nsize = 0\n"
            )
            for profile in ("python", "javascript", "typescript"):
                f.write(f"[pool.profile.{profile}]\nsize = {pool_size}\n")
        self.proc = subprocess.Popen([jaild, "--config", config], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "w"), env={**ENV, "JAILD_LOG": "warn"})
        deadline = time.time() + 60
        while True:
            try:
                if get(self.sock, "/v1/health")["status"] == "ok":
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit(f"jaild ({name}) did not start: {open(os.path.join(self.dir, 'log')).read()[-800:]}")
            time.sleep(0.05)
        self.pool_size = pool_size

    def wait_warm(self, timeout=60):
        if not self.pool_size:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            pools = get(self.sock, "/v1/health")["pools"]
            if pools and all(p["warm"] >= p["size"] for p in pools):
                return
            time.sleep(0.05)

    def rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def interpreter_rss_kib(argv):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=ENV)
    time.sleep(0.5)
    rss = 0
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    p.kill()
    p.wait()
    return rss


def throughput(f, clients, seconds):
    stop = time.time() + seconds
    counts = [0] * clients

    def worker(i):
        while time.time() < stop:
            f()
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=4.0, help="each throughput measurement")
    ap.add_argument("--pool", type=int, default=4, help="warm jails per profile of the warm daemon")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    args = ap.parse_args()
    jailctl, jaild = os.path.join(args.bin, "jailctl"), os.path.join(args.bin, "jaild")
    for b in (jailctl, jaild):
        if not os.path.exists(b):
            sys.exit(f"{b} not found: build it with `cargo build --release`")
    notes = []
    if not shutil.which("bwrap"):
        notes.append("bubblewrap is not installed: its rows are left out (apt-get install bubblewrap)")
    if not shutil.which("nsjail"):
        notes.append("nsjail is not installed: its rows are left out")

    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        scripts = {}
        for lang, ext in EXT.items():
            scripts[lang] = os.path.join(tmp, f"trivial.{ext}")
            with open(scripts[lang], "w") as f:
                f.write(CODE[lang] + "\n")
        cold = Daemon(jaild, tmp, "cold", 0, 300000)
        warm = Daemon(jaild, tmp, "warm", args.pool, 302000)
        try:
            warm.wait_warm()
            idle_rss = {"cold": cold.rss_kib(), "warm": warm.rss_kib()}
            print(f"latency, ms (p50 / p99 / median ratio to bare in the same round); {args.rounds} rounds")
            print(f"{'':<24}{'python':>24}{'javascript':>24}{'typescript':>24}")
            rows = {}
            bare = {"python": [PYTHON, "-c", "pass"], "javascript": [NODE, "-e", "0"], "typescript": [NODE, "-e", "0"]}
            for lang in CODE:
                variants = [("bare interpreter", lambda lang=lang: run_argv(bare[lang]))]
                if bwrap_argv(bare[lang]):
                    variants.append(("bubblewrap", lambda lang=lang: run_argv(bwrap_argv(bare[lang]))))
                if nsjail_argv(bare[lang]):
                    variants.append(("nsjail", lambda lang=lang: run_argv(nsjail_argv(bare[lang]))))
                local_env = {**ENV, "JAILD_SOCKET": "/nonexistent"}
                variants += [
                    ("jailctl run (cold)", lambda lang=lang: subprocess.run(
                        [jailctl, "run", "--local", scripts[lang]], stdout=subprocess.DEVNULL, env=local_env, check=True)),
                    ("jaild cold", lambda lang=lang: post_run(cold.sock, lang)),
                    ("jaild warm", lambda lang=lang: post_run(warm.sock, lang)),
                ]
                for _, f in variants:  # warm caches (digests, profiles, page cache)
                    f()
                    f()
                times = {name: [] for name, _ in variants}
                for _ in range(args.rounds):
                    for name, f in variants:
                        times[name].append(timed(f))
                    warm.wait_warm(5)
                b = times["bare interpreter"]
                for name, _ in variants:
                    t = times[name]
                    ratio = statistics.median(x / y for x, y in zip(t, b))
                    rows.setdefault(name, {})[lang] = f"{statistics.median(t):.1f} / {percentile(t, 99):.1f} / x{ratio:.2f}"
            for name, cells in rows.items():
                print(f"{name:<24}" + "".join(f"{cells.get(lang, '-'):>24}" for lang in CODE))

            print(f"\nthroughput, runs/s ({args.seconds:.0f} s each)")
            print(f"{'':<24}{'python, 2':>14}{'python, 8':>14}{'node, 2':>14}{'node, 8':>14}")
            tp = {
                "bare interpreter": (lambda: run_argv(bare["python"]), lambda: run_argv(bare["javascript"])),
            }
            if shutil.which("bwrap"):
                tp["bubblewrap"] = (lambda: run_argv(bwrap_argv(bare["python"])), lambda: run_argv(bwrap_argv(bare["javascript"])))
            tp["jaild cold"] = (lambda: post_run(cold.sock, "python"), lambda: post_run(cold.sock, "javascript"))
            tp["jaild warm"] = (lambda: post_run(warm.sock, "python"), lambda: post_run(warm.sock, "javascript"))
            for name, (fp, fn) in tp.items():
                cells = []
                for f in (fp, fn):
                    for clients in (2, 8):
                        warm.wait_warm(10)
                        cells.append(f"{throughput(f, clients, args.seconds):.0f}")
                print(f"{name:<24}" + "".join(f"{c:>14}" for c in cells))
            hits = {p["profile"]: (p["hits"], p["misses"]) for p in get(warm.sock, "/v1/health")["pools"]}
            print(f"warm daemon's pools, hits/misses over the whole run: {hits}")

            warm.wait_warm()
            print("\nmemory")
            print(f"jaild idle RSS: {idle_rss['cold'] / 1024:.1f} MiB (no warm jails), "
                  f"{idle_rss['warm'] / 1024:.1f} MiB (with {args.pool} per profile)")
            own = {"python": interpreter_rss_kib([PYTHON, "-I", "-S", "-c", "import sys; sys.stdin.read()"]),
                   "javascript": interpreter_rss_kib([NODE, "-e", "process.stdin.resume()"])}
            own["typescript"] = own["javascript"]
            for p in get(warm.sock, "/v1/health")["pools"]:
                charged = p["charged_bytes"]
                if not charged:
                    continue
                mean = statistics.mean(charged) / 1048576
                bound = own[p["profile"]] / 1024 + 2
                print(f"  {p['profile']:<11} {len(charged)} warm jails, charged {mean:.1f} MiB each "
                      f"(the interpreter's own RSS + 2 MiB: {bound:.1f} MiB)")
        finally:
            cold.stop()
            warm.stop()
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()
