#!/usr/bin/env python3
"""Start-up cost of a jail: `jailctl run` of a trivial script against the bare interpreter.

Runs each pair side by side, interleaved (bare, jailed, bare, jailed, ...) so that the noise
of a shared machine falls on both alike, and prints the median wall times, their ratio, and
the median of the per-pair ratios (each jailed run against the bare run just before it).
Not a test: machines here are noisy, so it reports numbers instead of asserting them.

    python3 bench/startup.py [--runs N] [--jailctl PATH]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3.11"
NODE = "/opt/jaild/interpreters/node-24.21.0/bin/node"


def timed(argv, env=None):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--jailctl", default=os.path.join(ROOT, "target", "release", "jailctl"))
    args = ap.parse_args()
    if not os.path.exists(args.jailctl):
        sys.exit(f"{args.jailctl} not found: build it with `cargo build --release`")

    clean_env = {"PATH": "/usr/bin:/bin"}
    with tempfile.TemporaryDirectory() as tmp:
        py = os.path.join(tmp, "trivial.py")
        js = os.path.join(tmp, "trivial.js")
        with open(py, "w") as f:
            f.write("result = 1\n")
        with open(js, "w") as f:
            f.write("return 1;\n")
        pairs = [
            ("python", [PYTHON, "-c", "pass"], [args.jailctl, "run", py]),
            ("javascript", [NODE, "-e", "0"], [args.jailctl, "run", js]),
        ]
        print(f"{'language':<12}{'bare median':>14}{'jailctl median':>17}{'ratio':>8}{'pair ratio':>12}   runs={args.runs}")
        for name, bare_argv, jail_argv in pairs:
            for _ in range(3):  # warm caches (and the interpreter digest cache)
                timed(bare_argv, clean_env)
                timed(jail_argv, clean_env)
            bare, jailed = [], []
            for _ in range(args.runs):
                bare.append(timed(bare_argv, clean_env))
                jailed.append(timed(jail_argv, clean_env))
            b, j = statistics.median(bare), statistics.median(jailed)
            # Each jailed run against the bare run just before it: drift of a shared machine
            # cancels out in the pairs.
            pairs = statistics.median(jv / bv for bv, jv in zip(bare, jailed))
            print(f"{name:<12}{b:>12.1f}ms{j:>15.1f}ms{j / b:>8.2f}x{pairs:>11.2f}x")


if __name__ == "__main__":
    main()
