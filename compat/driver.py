# compat/driver.py: runs one module of CPython's regression tests with unittest and returns
# what happened to each test. The same file runs both ways (compat/run):
#
#   jailed: jailctl run --profile compat-python driver.py --input '{"module": "test_math", ...}'
#           jaild's runner execs it as __main__ with the global `input` set to the parsed input;
#           the outcome map is left in the global `result` (the jail's result).
#   bare:   /usr/bin/python3.11 -I -S -B driver.py '{"module": "test_math", ...}'
#           `input` is then the builtin function; the outcome map is printed as the last line
#           of stdout, after a marker (the tests print to stdout too).
#
# Input: {"module": "test_math",          the module of the test package
#         "root": "/compat",              the directory holding the test package (put first on sys.path)
#         "resources": [],                test.support resources enabled (regrtest -u); [] as regrtest's default
#         "tests": ["test.test_math.MathTests.testFsum", ...]   optional: run only these ids,
#         "exclude": ["test.test_csv.TestSniffer.test_sniff_regex_*", ...]   fnmatch patterns not to run,
#         "test_timeout": 90}                 seconds one test may take before it counts as hung
#
# Output: {"module": ..., "tests": {id: {"outcome": "pass"|"fail"|"error"|"skip",
#                                        "detail": "skip reason, or the traceback's first and last lines"}},
#          "excluded": [ids not run, as the input's "exclude" asked],
#          "remaining": [ids not run because a test hung: to be run in a new process],
#          "seconds": wall time of the module, "python": sys.version}
#
# What it does is what regrtest does for one test (Lib/test/libregrtest/runtest.py): import
# test.MODULE, run its test_main() if it has one, else the tests unittest's loader finds in it;
# test.support's runner is replaced by one that records every test's outcome instead of raising.
#
# A hung test (one that has not ended after test_timeout seconds: a thread waiting for a
# connection that never comes, say) would cost the whole module its result at the run's wall
# limit. A watchdog thread then interrupts the main thread with SIGINT (KeyboardInterrupt, which
# unittest lets through), records that test as an error with every thread's stack, and stops:
# the tests not run yet are returned as "remaining", and compat/run runs them in a fresh
# process (a fresh jail), so that what the hung test left behind cannot fail them. The watchdog
# is a raw _thread
# thread, started before any test: threading.enumerate() and active_count() do not list it and
# _thread._count() stays constant across tests, so thread-counting tests are not disturbed.
import sys
import time

MARKER = "@@JAILD-COMPAT-RESULT@@"
DETAIL_HEAD = 4     # lines of a traceback kept from its start ...
DETAIL_TAIL = 8     # ... and from its end (the exception and its message)
DETAIL_CHARS = 1600


def _args():
    if isinstance(globals().get("input"), dict):      # jailed: set by jaild's runner
        return globals()["input"], True
    import json
    return json.loads(sys.argv[1]), False


def _trim(text):
    lines = text.rstrip("\n").split("\n")
    if len(lines) > DETAIL_HEAD + DETAIL_TAIL + 1:
        lines = lines[:DETAIL_HEAD] + ["  ..."] + lines[-DETAIL_TAIL:]
    text = "\n".join(lines)
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS // 2] + "\n  ...\n" + text[-DETAIL_CHARS // 2:]
    return text


def main():
    args, jailed = _args()
    started = time.monotonic()
    sys.path.insert(0, args["root"])
    # An interpreter crash (a segfault in a C module) names the test on stderr.
    import faulthandler
    faulthandler.enable()

    import io
    import importlib
    import unittest
    from test import support

    support.use_resources = list(args.get("resources", []))
    support.verbose = 0
    # test.support wants to know where the real stdout is (as regrtest tells it).
    support.record_original_stdout(sys.stdout)

    tests = {}
    watch = _Watchdog(float(args.get("test_timeout", 90)))

    def record(test, outcome, detail=""):
        tid = test.id()
        # A test already failed (a subtest, or a tearDown error after a failure) stays failed.
        if tests.get(tid, {}).get("outcome") in ("fail", "error") and outcome in ("pass", "skip"):
            return
        tests[tid] = {"outcome": outcome, "detail": _trim(detail)} if detail else {"outcome": outcome}

    class Recorder(unittest.TestResult):
        def startTest(self, test):
            super().startTest(test)
            watch.start(test.id())

        def stopTest(self, test):
            watch.stop()
            super().stopTest(test)

        def addSuccess(self, test):
            super().addSuccess(test)
            record(test, "pass")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            record(test, "fail", self.failures[-1][1])

        def addError(self, test, err):
            super().addError(test, err)
            record(test, "error", self.errors[-1][1])

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            record(test, "skip", str(reason))

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            record(test, "pass", "expected failure")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            record(test, "fail", "unexpected success")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                kind = "fail" if issubclass(err[0], test.failureException) else "error"
                text = (self.failures if kind == "fail" else self.errors)[-1][1]
                record(test, kind, "%s\n%s" % (subtest.id(), text))

    only = set(args.get("tests") or ())
    exclude = list(args.get("exclude") or ())
    excluded = []

    def keep(suite):
        """The suite with only the wanted ids (all of them when none is given), less the
        excluded ones."""
        if not only and not exclude:
            return suite
        import fnmatch
        out = unittest.TestSuite()
        for t in _flatten(suite):
            if any(fnmatch.fnmatchcase(t.id(), pat) for pat in exclude):
                excluded.append(t.id())
            elif not only or t.id() in only:
                out.addTest(t)
        return out

    remaining = []      # tests not run because one hung: compat/run runs them in a new process
    state = {"stopped": False}

    def run_suite(suite):
        suite = keep(suite)
        # Every test, before the run (a TestSuite drops the tests it has run).
        every = list(_flatten(suite))
        if state["stopped"]:                 # a later run_unittest() of a test_main()
            remaining.extend(t.id() for t in every)
            return
        try:
            suite.run(Recorder())
        except KeyboardInterrupt:
            hung = watch.fired or watch.current or "test.%s (interrupted)" % args["module"]
            if watch.fired:
                why = "hung: no end after %.0f s; the threads were at:\n%s" % (
                    watch.timeout, watch.stacks)
            else:
                why = "KeyboardInterrupt out of the test (not the watchdog's)"
            tests[hung] = {"outcome": "error", "detail": why[:DETAIL_CHARS]}
            # What the hung test left behind (threads, handlers, fds) would disturb the tests
            # after it here: they are handed back, to run in a fresh interpreter.
            state["stopped"] = True
            remaining.extend(t.id() for t in every if t.id() not in tests)

    # test_main() modules (test_decimal, test_xml_etree, ...) call support.run_unittest, which
    # ends in support._run_suite: ours records instead of raising TestFailed.
    support._run_suite = run_suite

    name = args["module"]
    module_id = "test.%s (module)" % name
    try:
        mod = importlib.import_module("test." + name)
        if hasattr(mod, "test_main"):
            mod.test_main()
        else:
            loader = unittest.TestLoader()
            suite = loader.loadTestsFromModule(mod)
            for error in loader.errors:
                tests.setdefault(module_id + " loader", {"outcome": "error", "detail": _trim(error)})
            run_suite(suite)
    except unittest.SkipTest as exc:         # at import: a missing optional module, a resource
        tests[module_id] = {"outcome": "skip", "detail": str(exc)}
    except BaseException as exc:              # at import, or out of test_main()
        import traceback
        tests[module_id] = {"outcome": "error", "detail": _trim("".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)))}

    out = {
        "module": name,
        "jailed": jailed,
        "tests": tests,
        "excluded": excluded,
        "remaining": remaining,
        "seconds": round(time.monotonic() - started, 3),
        "python": sys.version,
    }
    return out


class _Watchdog:
    """Interrupts the main thread when one test runs longer than `timeout` seconds."""

    def __init__(self, timeout):
        import _thread
        import signal
        self.timeout = timeout
        self.current = None       # the running test's id
        self.since = None
        self.fired = None         # the id of the test interrupted
        self.stacks = ""
        self._main = _thread.get_ident()
        # Python's own SIGINT handler: KeyboardInterrupt in the main thread, also out of a
        # blocking wait (a lock, a select, a sleep).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _thread.start_new_thread(self._loop, ())

    def start(self, test_id):
        self.current, self.since = test_id, time.monotonic()

    def stop(self):
        self.since = None

    def reset(self):
        self.fired, self.stacks, self.since = None, "", None

    def _loop(self):
        import signal
        import traceback
        while True:
            time.sleep(1)
            since = self.since
            if since is None or self.fired is not None or time.monotonic() - since < self.timeout:
                continue
            self.fired = self.current
            frames = sys._current_frames()
            self.stacks = "\n".join(
                "thread %d%s:\n%s" % (ident, " (main)" if ident == self._main else "",
                                     "".join(traceback.format_stack(f)[-4:]))
                for ident, f in frames.items() if ident != _thread_ident())
            signal.pthread_kill(self._main, signal.SIGINT)


def _thread_ident():
    import _thread
    return _thread.get_ident()


def _flatten(suite):
    import unittest
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


# Only as the main script: multiprocessing's spawn and forkserver children import the main
# module again (as __mp_main__), and must not run the tests once more.
if __name__ == "__main__":
    _out = main()
    if isinstance(globals().get("input"), dict):
        result = _out
    else:
        import json
        import os
        sys.stdout.flush()
        os.write(1, ("\n%s %s\n" % (MARKER, json.dumps(_out))).encode())
        # Like jaild's runner: leave at once, without waiting for threads a test left behind.
        os._exit(0)
