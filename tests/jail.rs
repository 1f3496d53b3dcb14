//! Real jails on the real kernel: limits, verdicts and confinement.
//!
//! Every test runs real scripts through `run`/`run_with` (or `run_request` below, for requests
//! the string helpers cannot express), so `assert_no_leftovers` checks the host after each run.
//! Tests that attack the kernel boundary use `kernel_only_supervisor()`: the shipped profiles
//! with the in-jail language policy switched off, so what stops the script is the kernel.
mod common;
use common::*;

use jaild::profile::{ByteSize, Language};
use jaild::report::{Report, Status, Usage, Violation};
use jaild::seccomp::DenialLevel;
use jaild::{LimitOverrides, RunRequest, Supervisor};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const MIB: u64 = 1 << 20;
const SIGKILL: i32 = 9;

// ------------------------------------------------------------------------------------------
// helpers

/// The value of a Result the test cannot go on without.
fn must<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// Script text written indented in the test, without the common indentation (Python cares).
fn dedent(code: &str) -> String {
    let code = code.strip_prefix('\n').unwrap_or(code);
    let indent =
        code.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    code.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n")
}

fn py(code: &str) -> Report {
    run("python", &dedent(code))
}

fn js(code: &str) -> Report {
    run("javascript", &dedent(code))
}

fn ts(code: &str) -> Report {
    run("typescript", &dedent(code))
}

/// Runs on the kernel-only supervisor (no language policy layer).
fn ko(language: &str, code: &str) -> Report {
    run_with(kernel_only_supervisor(), language, &dedent(code), None, LimitOverrides::default())
}

fn with(language: &str, code: &str, limits: LimitOverrides) -> Report {
    run_with(supervisor(), language, &dedent(code), None, limits)
}

/// Runs a request as given (its id replaced by a unique one) and checks the host afterwards.
fn run_request(sup: &Supervisor, mut request: RunRequest) -> Report {
    let id = unique_id("raw");
    request.id = Some(id.clone());
    let report = run_in_mode(sup, request, &jaild::RunHooks::default());
    assert_eq!(report.id, id);
    assert_no_leftovers(&report);
    report
}

fn request(language: Option<&str>, code: &[u8]) -> RunRequest {
    RunRequest {
        id: None,
        profile: None,
        language: language.and_then(Language::parse),
        interpreter: None,
        filename: None,
        code: code.to_vec(),
        input: None,
        limits: LimitOverrides::default(),
    }
}

fn assert_status(r: &Report, status: Status) {
    assert_eq!(r.status, status, "{}", show(r));
}

/// The seccomp violation with exactly this detail.
fn syscall_violation<'a>(r: &'a Report, detail: &str) -> Option<&'a Violation> {
    r.violations.iter().find(|v| v.kind == "syscall" && v.detail == detail)
}

/// Violations that count (not the profile's routine, quiet probes).
fn loud(r: &Report) -> Vec<String> {
    r.violations.iter().filter(|v| !v.quiet).map(|v| format!("{}: {}", v.kind, v.detail)).collect()
}

/// The run ended by itself and returned a result, with nothing the jail had to refuse.
fn assert_ok(r: &Report) {
    assert_status(r, Status::Ok);
    assert_eq!(r.exit_code, Some(0), "{}", show(r));
    assert_eq!(r.signal, None, "{}", show(r));
    assert!(r.error.is_none(), "{}", show(r));
    assert!(loud(r).is_empty(), "unexpected violations: {}", show(r));
}

/// A loud seccomp denial with this detail is in the report and made the run a security violation.
fn assert_denied(r: &Report, detail: &str) {
    let v = syscall_violation(r, detail).unwrap_or_else(|| panic!("no violation {detail:?} in {}", show(r)));
    assert!(!v.quiet, "{detail} is reported as quiet: {}", show(r));
    assert_eq!(v.level, DenialLevel::Violation, "{detail}: {}", show(r));
    assert!(v.count >= 1);
    assert_status(r, Status::SecurityViolation);
}

fn wall(ms: u64) -> LimitOverrides {
    LimitOverrides { wall_time_ms: Some(ms), ..Default::default() }
}

fn cpu(ms: u64) -> LimitOverrides {
    LimitOverrides { cpu_time_ms: Some(ms), ..Default::default() }
}

fn memory(bytes: u64) -> LimitOverrides {
    LimitOverrides { memory: Some(ByteSize(bytes)), ..Default::default() }
}

fn profile(name: &str) -> jaild::profile::Profile {
    must(jaild::profile::load(&repo().join("profiles"), name), "load profile")
}

/// The Landlock ABI the running kernel reports.
fn kernel_landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset with a NULL attr, size 0 and the VERSION flag only
    // returns the ABI version (or an error); it reads and writes no memory.
    unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    }
}

/// The cgroup version the supervisor must pick on this host: v2 when the unified hierarchy
/// has the memory controller, else the v1 hybrid layout.
fn host_cgroup_version() -> &'static str {
    let unified = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
    if unified.split_whitespace().any(|c| c == "memory") {
        "v2"
    } else {
        "v1"
    }
}

// ------------------------------------------------------------------------------------------
// 1. ok with a result; stdout and stderr apart

#[test]
fn python_ok_with_result() {
    require_jails!();
    let r =
        run_with(supervisor(), "python", "result = sum(input['xs'])", Some(r#"{"xs":[1,2,3]}"#), Default::default());
    assert_eq!(r.status, jaild::report::Status::Ok, "{}", show(&r));
    assert_eq!(r.result, serde_json::json!(6));
}

#[test]
fn python_result_stdout_and_stderr_are_captured_separately() {
    require_jails!();
    let code = dedent(
        r#"
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        result = {"n": input["n"] * 2, "s": "é", "xs": [1, 2.5, None, True]}
        "#,
    );
    let r = run_with(supervisor(), "python", &code, Some(r#"{"n": 21}"#), Default::default());
    assert_ok(&r);
    assert_eq!(r.result, json!({"n": 42, "s": "é", "xs": [1, 2.5, null, true]}));
    assert_eq!(r.stdout, "to stdout\n");
    assert_eq!(r.stderr, "to stderr\n");
    assert!(!r.stdout_truncated && !r.stderr_truncated);
    assert_eq!((r.usage.stdout_bytes, r.usage.stderr_bytes), (10, 10));
    assert!(r.violations.is_empty(), "{}", show(&r));
}

#[test]
fn javascript_result_stdout_and_stderr_are_captured_separately() {
    require_jails!();
    let code = dedent(
        r#"
        console.log("to stdout");
        console.error("to stderr");
        await new Promise((r) => setTimeout(r, 10));
        return { n: input.n * 2, s: "é", xs: [1, 2.5, null, true] };
        "#,
    );
    let r = run_with(supervisor(), "javascript", &code, Some(r#"{"n": 21}"#), Default::default());
    assert_ok(&r);
    assert_eq!(r.result, json!({"n": 42, "s": "é", "xs": [1, 2.5, null, true]}));
    assert_eq!(r.stdout, "to stdout\n");
    assert_eq!(r.stderr, "to stderr\n");
    assert!(!r.stdout_truncated && !r.stderr_truncated);
}

#[test]
fn typescript_with_interfaces_and_generics_returns_its_result() {
    require_jails!();
    let code = dedent(
        r#"
        interface Item { name: string; price: number }
        type Total<T> = { count: number; items: T[] };
        function total<T extends Item>(items: T[]): Total<T> & { sum: number } {
          const sum: number = items.reduce((acc: number, i: T) => acc + i.price, 0);
          return { count: items.length, items, sum };
        }
        type Level = "low" | "high";
        const level: Level = "high";
        const items: Item[] = input.items as Item[];
        console.log(`typed ${items.length}`);
        console.error("ts stderr");
        return { ...total<Item>(items), level };
        "#,
    );
    let input = r#"{"items":[{"name":"a","price":2},{"name":"b","price":3}]}"#;
    let r = run_with(supervisor(), "typescript", &code, Some(input), Default::default());
    assert_ok(&r);
    assert_eq!(
        r.result,
        json!({"count": 2, "items": [{"name": "a", "price": 2}, {"name": "b", "price": 3}], "sum": 5, "level": "high"})
    );
    assert_eq!(r.stdout, "typed 2\n");
    assert_eq!(r.stderr, "ts stderr\n");
    assert_eq!(r.profile.as_ref().map(|p| p.name.as_str()), Some("typescript"));
}

// ------------------------------------------------------------------------------------------
// 2. runtime errors with a traceback of the script's lines

#[test]
fn python_exception_is_runtime_error_with_script_traceback() {
    require_jails!();
    let r = py(r#"
        x = 1
        def f(d):
            return d["missing"]
        print("before")
        f({})
        "#);
    assert_status(&r, Status::RuntimeError);
    assert_eq!(r.exit_code, Some(1));
    assert_eq!(r.result, serde_json::Value::Null);
    assert_eq!(r.stdout, "before\n", "output before the error is kept");
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!(e.kind, "KeyError");
    assert_eq!(e.message, "'missing'");
    assert!(e.traceback.contains(r#"File "script.py", line 5, in <module>"#), "{}", e.traceback);
    assert!(e.traceback.contains(r#"File "script.py", line 3, in f"#), "{}", e.traceback);
    assert!(!e.traceback.contains("runner"), "runner frames leak: {}", e.traceback);
    assert!(!e.traceback.contains("/jaild/"), "runner paths leak: {}", e.traceback);
}

#[test]
fn javascript_exception_is_runtime_error_with_script_traceback() {
    require_jails!();
    let r = js(r#"
        const a = 1;
        function f() {
          throw new TypeError("bad thing");
        }
        f();
        "#);
    assert_status(&r, Status::RuntimeError);
    assert_eq!(r.exit_code, Some(1));
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!(e.kind, "TypeError");
    assert_eq!(e.message, "bad thing");
    assert!(e.traceback.contains("script.js:3:"), "{}", e.traceback);
    assert!(e.traceback.contains("script.js:5:"), "{}", e.traceback);
    assert!(!e.traceback.contains("runner"), "runner frames leak: {}", e.traceback);
    assert!(!e.traceback.contains("node:internal"), "node frames leak: {}", e.traceback);
}

#[test]
fn javascript_rejected_promise_is_runtime_error() {
    require_jails!();
    let r = js(r#"
        class MyError extends Error {}
        await new Promise((r) => setTimeout(r, 5));
        throw new MyError("async failure");
        "#);
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!((e.kind.as_str(), e.message.as_str()), ("MyError", "async failure"));
    assert!(e.traceback.contains("script.js:3:"), "{}", e.traceback);
}

#[test]
fn typescript_exception_is_runtime_error_with_script_traceback() {
    require_jails!();
    let r = ts(r#"
        interface P { x: number }
        function f<T extends P>(p: T): number {
          throw new RangeError("ts " + p.x);
        }
        f({ x: 3 });
        "#);
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!((e.kind.as_str(), e.message.as_str()), ("RangeError", "ts 3"));
    assert!(e.traceback.contains("script.ts:3:"), "types are stripped in place, lines kept: {}", e.traceback);
    assert!(e.traceback.contains("script.ts:5:"), "{}", e.traceback);
    assert!(!e.traceback.contains("runner"), "{}", e.traceback);
}

// ------------------------------------------------------------------------------------------
// 3. syntax errors

#[test]
fn python_syntax_error_is_runtime_error_named_syntax_error() {
    require_jails!();
    let r = py("y = 2\nx = = 1\n");
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!(e.kind, "SyntaxError");
    assert!(e.traceback.contains(r#"File "script.py", line 2"#), "{}", e.traceback);
    assert!(e.traceback.contains("x = = 1"), "{}", e.traceback);
}

#[test]
fn javascript_syntax_error_is_runtime_error_named_syntax_error() {
    require_jails!();
    let r = js("const y = 2;\nlet x = ;\n");
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!(e.kind, "SyntaxError");
    assert!(e.traceback.contains("script.js:2"), "{}", e.traceback);
    assert!(e.traceback.contains("let x = ;"), "{}", e.traceback);
    assert!(!e.traceback.contains("async function"), "the runner's wrapper shows: {}", e.traceback);
}

#[test]
fn typescript_syntax_error_is_runtime_error_named_syntax_error() {
    require_jails!();
    let r = ts("const y: number = 2;\nlet x: number = ;\n");
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("no error: {}", show(&r)));
    assert_eq!(e.kind, "SyntaxError");
    assert!(e.traceback.contains("script.ts:2"), "{}", e.traceback);
    assert!(e.traceback.contains("let x: number = ;"), "{}", e.traceback);
}

// ------------------------------------------------------------------------------------------
// 4. wall time

fn assert_timed_out_at_1s(r: &Report) {
    assert_status(r, Status::Timeout);
    assert!(r.usage.wall_ms >= 1000 && r.usage.wall_ms < 3000, "wall {} ms: {}", r.usage.wall_ms, show(r));
    assert_eq!(r.result, serde_json::Value::Null);
    assert_eq!(r.exit_code, None, "the script did not end by itself: {}", show(r));
}

#[test]
fn python_sleep_past_wall_limit_is_timeout() {
    require_jails!();
    let r = with("python", "import time\ntime.sleep(10)\nresult = 1", wall(1000));
    assert_timed_out_at_1s(&r);
    assert!(r.usage.cpu_user_ms + r.usage.cpu_system_ms < 500, "a sleeper uses no CPU: {}", show(&r));
}

#[test]
fn python_busy_loop_past_wall_limit_is_timeout() {
    require_jails!();
    let r = with("python", "while True:\n    pass", wall(1000));
    assert_timed_out_at_1s(&r);
}

#[test]
fn javascript_sleep_past_wall_limit_is_timeout() {
    require_jails!();
    let r = with("javascript", "await new Promise((r) => setTimeout(r, 10000));\nreturn 1;", wall(1000));
    assert_timed_out_at_1s(&r);
}

#[test]
fn javascript_busy_loop_past_wall_limit_is_timeout() {
    require_jails!();
    let r = with("javascript", "for (;;) {}", wall(1000));
    assert_timed_out_at_1s(&r);
}

#[test]
fn typescript_sleep_past_wall_limit_is_timeout() {
    require_jails!();
    let r =
        with("typescript", "const ms: number = 10000;\nawait new Promise<void>((r) => setTimeout(r, ms));", wall(1000));
    assert_timed_out_at_1s(&r);
}

// ------------------------------------------------------------------------------------------
// 5. CPU time

fn assert_cpu_limited_at_500ms(r: &Report) {
    assert_status(r, Status::CpuLimit);
    let used = r.usage.cpu_user_ms + r.usage.cpu_system_ms;
    assert!(used >= 450, "cpu {used} ms: {}", show(r));
    assert!(r.usage.wall_ms < 3000, "stopped on CPU, long before the 5 s wall limit: {}", show(r));
    assert_eq!(r.result, serde_json::Value::Null);
}

#[test]
fn python_busy_loop_past_cpu_limit_is_cpu_limit() {
    require_jails!();
    let r = with("python", "while True:\n    pass", cpu(500));
    assert_cpu_limited_at_500ms(&r);
}

#[test]
fn javascript_busy_loop_past_cpu_limit_is_cpu_limit() {
    require_jails!();
    let r = with("javascript", "for (;;) {}", cpu(500));
    assert_cpu_limited_at_500ms(&r);
}

#[test]
fn python_cpu_of_forked_children_counts_towards_cpu_limit() {
    require_jails!();
    // os is not blocked by the shipped profile: forking is allowed, and every child's CPU is
    // the jail's CPU.
    let r = with(
        "python",
        r#"
        import os
        for _ in range(3):
            if os.fork() == 0:
                while True:
                    pass
        while True:
            pass
        "#,
        cpu(500),
    );
    assert_cpu_limited_at_500ms(&r);
    assert!(r.usage.pids_peak.unwrap_or(0) >= 4, "the children ran: {}", show(&r));
}

#[test]
fn javascript_cpu_of_worker_threads_counts_towards_cpu_limit() {
    require_jails!();
    // worker_threads is blocked by the policy layer; the kernel-only profile lets it through.
    let r = run_with(
        kernel_only_supervisor(),
        "javascript",
        &dedent(
            r#"
            const { Worker } = require("worker_threads");
            for (let i = 0; i < 3; i++) new Worker("for (;;) {}", { eval: true });
            for (;;) {}
            "#,
        ),
        None,
        cpu(500),
    );
    assert_cpu_limited_at_500ms(&r);
    assert!(r.usage.pids_peak.unwrap_or(0) > 8, "the workers ran as threads: {}", show(&r));
}

// ------------------------------------------------------------------------------------------
// 6. memory

fn assert_oom_at(r: &Report, limit: u64) {
    assert_status(r, Status::MemoryLimit);
    assert!(r.usage.oom_kills >= 1, "{}", show(r));
    assert_eq!(r.signal, Some(SIGKILL), "the OOM killer's signal: {}", show(r));
    let peak = r.usage.memory_peak_bytes;
    assert!(peak <= limit && peak >= limit / 10 * 9, "peak {peak} vs limit {limit}: {}", show(r));
    assert_eq!(r.result, serde_json::Value::Null);
}

#[test]
fn python_allocation_balloon_is_memory_limit() {
    require_jails!();
    let r = with(
        "python",
        r#"
        xs = []
        while True:
            xs.append(bytearray(b"\x01" * (1 << 20)))
        "#,
        memory(64 * MIB),
    );
    assert_oom_at(&r, 64 * MIB);
}

#[test]
fn python_allocation_under_memory_limit_is_ok() {
    require_jails!();
    let r = with(
        "python",
        r#"
        xs = [bytearray(b"\x01" * (1 << 20)) for _ in range(16)]
        result = sum(len(x) for x in xs)
        "#,
        memory(64 * MIB),
    );
    assert_ok(&r);
    assert_eq!(r.result, json!(16 * MIB));
    assert!(r.usage.memory_peak_bytes >= 16 * MIB && r.usage.memory_peak_bytes < 64 * MIB, "{}", show(&r));
    assert_eq!(r.usage.oom_kills, 0);
}

#[test]
fn javascript_buffer_balloon_is_memory_limit() {
    require_jails!();
    let r = with(
        "javascript",
        r#"
        const xs = [];
        for (;;) xs.push(Buffer.alloc(8 << 20, 1));
        "#,
        memory(128 * MIB),
    );
    assert_oom_at(&r, 128 * MIB);
}

#[test]
fn javascript_allocation_under_memory_limit_is_ok() {
    require_jails!();
    let r = with(
        "javascript",
        r#"
        const xs = [];
        for (let i = 0; i < 4; i++) xs.push(Buffer.alloc(8 << 20, 1));
        return xs.reduce((a, b) => a + b.length, 0);
        "#,
        memory(128 * MIB),
    );
    assert_ok(&r);
    assert_eq!(r.result, json!(32 * MIB));
    assert!(r.usage.memory_peak_bytes >= 32 * MIB && r.usage.memory_peak_bytes < 128 * MIB, "{}", show(&r));
}

#[test]
fn typescript_buffer_balloon_is_memory_limit() {
    require_jails!();
    let r = with(
        "typescript",
        r#"
        const xs: Buffer[] = [];
        for (;;) xs.push(Buffer.alloc(8 << 20, 1));
        "#,
        memory(128 * MIB),
    );
    assert_oom_at(&r, 128 * MIB);
}

// ------------------------------------------------------------------------------------------
// 7. processes and threads

#[test]
fn python_fork_bomb_is_pids_limit() {
    require_jails!();
    let r = py(r#"
        import os, time
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
            except OSError:
                pass
        "#);
    assert_status(&r, Status::PidsLimit);
    assert_eq!(r.usage.pids_peak, Some(profile("python").file.limits.pids), "{}", show(&r));
    assert!(r.usage.wall_ms < 3000, "{}", show(&r));
}

#[test]
fn javascript_worker_thread_bomb_is_pids_limit() {
    require_jails!();
    // Threads count as pids. A tighter pids limit than the profile's 32: with 64 open files a
    // Node process runs out of descriptors (EMFILE) at about 12 workers, before 32 threads.
    let limits = LimitOverrides { pids: Some(16), ..Default::default() };
    let code = dedent(
        r#"
        const { Worker } = require("worker_threads");
        const ws = [];
        for (;;) ws.push(new Worker("setInterval(() => {}, 1000)", { eval: true }));
        "#,
    );
    let r = run_with(kernel_only_supervisor(), "javascript", &code, None, limits);
    assert_status(&r, Status::PidsLimit);
    assert_eq!(r.usage.pids_peak, Some(16), "{}", show(&r));
}

// ------------------------------------------------------------------------------------------
// 8. output

fn assert_flood_stopped(r: &Report, stream: &str) {
    assert_status(r, Status::OutputLimit);
    let (text, truncated, bytes) = match stream {
        "stdout" => (&r.stdout, r.stdout_truncated, r.usage.stdout_bytes),
        _ => (&r.stderr, r.stderr_truncated, r.usage.stderr_bytes),
    };
    assert!(truncated, "{stream} not marked truncated");
    assert_eq!(text.len() as u64, MIB, "{stream} is kept up to its cap exactly");
    assert!(bytes > MIB, "{stream} bytes seen: {bytes}");
    assert!(r.usage.wall_ms < 2000, "stopped at once, not at the wall limit: {} ms", r.usage.wall_ms);
    assert!(r.message.as_deref().unwrap_or("").contains(stream), "{:?}", r.message);
}

#[test]
fn python_stdout_flood_is_output_limit_with_exact_cap() {
    require_jails!();
    let r = py("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)");
    assert_flood_stopped(&r, "stdout");
    assert!(r.stdout.bytes().all(|b| b == b'x'));
    assert!(!r.stderr_truncated);
}

#[test]
fn python_stderr_flood_is_output_limit_with_exact_cap() {
    require_jails!();
    let r = py("import sys\nwhile True:\n    sys.stderr.write('e' * 65536)");
    assert_flood_stopped(&r, "stderr");
    assert!(!r.stdout_truncated);
}

#[test]
fn javascript_stdout_flood_is_output_limit_with_exact_cap() {
    require_jails!();
    let r = js(r#"
        const chunk = "y".repeat(65536);
        for (;;) if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        "#);
    assert_flood_stopped(&r, "stdout");
    assert!(r.stdout.bytes().all(|b| b == b'y'));
}

#[test]
fn javascript_stderr_flood_is_output_limit_with_exact_cap() {
    require_jails!();
    let r = js(r#"
        const chunk = "e".repeat(65536);
        for (;;) if (!process.stderr.write(chunk)) await new Promise((r) => process.stderr.once("drain", r));
        "#);
    assert_flood_stopped(&r, "stderr");
}

fn assert_result_too_big(r: &Report) {
    assert_status(r, Status::OutputLimit);
    assert_eq!(r.result, serde_json::Value::Null, "a truncated result is not returned");
    assert!(r.usage.result_bytes > MIB, "{}", show(r));
    assert!(r.message.as_deref().unwrap_or("").contains("result"), "{:?}", r.message);
}

#[test]
fn python_result_over_cap_is_output_limit() {
    require_jails!();
    let r = py("result = 'x' * (2 << 20)");
    assert_result_too_big(&r);
}

#[test]
fn javascript_result_over_cap_is_output_limit() {
    require_jails!();
    let r = js(r#"return "x".repeat(2 << 20);"#);
    assert_result_too_big(&r);
}

// ------------------------------------------------------------------------------------------
// 9. rejected before anything starts

fn assert_rejected(r: &Report, prefix: &str) {
    assert_status(r, Status::Rejected);
    let message = r.message.as_deref().unwrap_or("");
    assert!(message.starts_with(prefix), "message {message:?} should start with {prefix:?}");
    assert_eq!(r.usage, Usage { wall_ms: r.usage.wall_ms, ..Usage::default() }, "nothing ran: {}", show(r));
    assert!(r.violations.is_empty(), "{}", show(r));
    assert_eq!((r.exit_code, r.signal), (None, None));
    assert_eq!(r.result, serde_json::Value::Null);
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    assert!(r.interpreter.is_none(), "{}", show(r));
    assert_eq!(r.enforcement.cgroup, None, "no cgroup was made: {}", show(r));
    assert!(r.enforcement.namespaces.is_empty(), "no jail was made: {}", show(r));
}

#[test]
fn script_over_size_limit_is_rejected() {
    require_jails!();
    let limit = profile("python").file.limits.script.0 as usize;
    let code = format!("#{}", "x".repeat(limit));
    assert_eq!(code.len(), limit + 1);
    let r = run_request(supervisor(), request(Some("python"), code.as_bytes()));
    assert_rejected(&r, "code:");
    // Exactly at the limit is accepted.
    let at_limit = format!("#{}", "x".repeat(limit - 1));
    let r = run_request(supervisor(), request(Some("python"), at_limit.as_bytes()));
    assert_ok(&r);
}

#[test]
fn input_over_size_limit_is_rejected() {
    require_jails!();
    let limit = profile("javascript").file.limits.input.0 as usize;
    let input = format!("\"{}\"", "a".repeat(limit - 1));
    assert_eq!(input.len(), limit + 1);
    let mut req = request(Some("javascript"), b"return input.length;");
    req.input = Some(input);
    assert_rejected(&run_request(supervisor(), req), "input:");
}

#[test]
fn invalid_input_json_is_rejected() {
    require_jails!();
    let mut req = request(Some("python"), b"result = input");
    req.input = Some(r#"{"a": "#.into());
    assert_rejected(&run_request(supervisor(), req), "input:");
}

#[test]
fn invalid_utf8_code_is_rejected() {
    require_jails!();
    let r = run_request(supervisor(), request(Some("python"), b"result = '\xff\xfe'"));
    assert_rejected(&r, "code:");
}

#[test]
fn nul_byte_in_code_is_rejected() {
    require_jails!();
    let r = run_request(supervisor(), request(Some("javascript"), b"return 1;\0"));
    assert_rejected(&r, "code:");
}

#[test]
fn unknown_profile_is_rejected() {
    require_jails!();
    let mut req = request(None, b"result = 1");
    req.profile = Some("no-such-profile".into());
    assert_rejected(&run_request(supervisor(), req), "profile:");
    let mut req = request(None, b"result = 1");
    req.profile = Some("../python".into());
    assert_rejected(&run_request(supervisor(), req), "profile:");
}

#[test]
fn language_that_is_not_the_profiles_is_rejected() {
    require_jails!();
    let mut req = request(Some("javascript"), b"return 1;");
    req.profile = Some("python".into());
    let r = run_request(supervisor(), req);
    assert_rejected(&r, "language:");
    let message = r.message.as_deref().unwrap_or("");
    assert!(message.contains("python") && message.contains("javascript"), "{message}");
}

#[test]
fn missing_language_and_profile_is_rejected() {
    require_jails!();
    assert_rejected(&run_request(supervisor(), request(None, b"result = 1")), "language:");
}

#[test]
fn limits_looser_than_the_profile_are_rejected() {
    require_jails!();
    let cases: [(&str, LimitOverrides); 4] = [
        ("limits.memory:", LimitOverrides { memory: Some(ByteSize(1 << 30)), ..Default::default() }),
        ("limits.wall_time_ms:", wall(60_000)),
        ("limits.cpu_time_ms:", cpu(60_000)),
        ("limits.pids:", LimitOverrides { pids: Some(4096), ..Default::default() }),
    ];
    for (prefix, limits) in cases {
        let mut req = request(Some("python"), b"result = 1");
        req.limits = limits;
        assert_rejected(&run_request(supervisor(), req), prefix);
    }
}

#[test]
fn invalid_run_id_is_rejected() {
    require_jails!();
    let mut req = request(Some("python"), b"result = 1");
    req.id = Some("../../etc".into());
    let r = supervisor().run(req);
    assert_no_leftovers(&r);
    assert_rejected(&r, "id:");
    assert_ne!(r.id, "../../etc");
}

// ------------------------------------------------------------------------------------------
// 10. filesystem

#[test]
fn python_writes_outside_scratch_fail_and_change_nothing_on_the_host() {
    require_jails!();
    let host_paths = ["/usr/x", "/x"];
    for p in host_paths {
        assert!(!Path::new(p).exists(), "{p} exists on the host before the run");
    }
    let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let r = py(r#"
        import errno
        out = {}
        for p in ["/usr/x", "/x", "/jaild/runner.py", "/jaild/x", "/lib/x", "/dev/x", "/proc/1/oom_score_adj",
                  "/proc/1/x", "/proc/sys/kernel/core_pattern", "/usr/bin/python3.11"]:
            try:
                with open(p, "a") as f:
                    f.write("pwned")
                out[p] = "written"
            except OSError as e:
                out[p] = errno.errorcode.get(e.errno, str(e.errno))
        result = out
        "#);
    assert_ok(&r);
    let errno = |p: &str| r.result[p].as_str().unwrap_or("?").to_string();
    for p in ["/usr/x", "/x", "/jaild/runner.py", "/jaild/x", "/lib/x", "/dev/x", "/usr/bin/python3.11"] {
        assert!(["EROFS", "EACCES"].contains(&errno(p).as_str()), "write to {p}: {}", errno(p));
    }
    // jail-init (pid 1) is invisible (hidepid) and /proc has only pid entries (subset=pid).
    for p in ["/proc/1/oom_score_adj", "/proc/1/x", "/proc/sys/kernel/core_pattern"] {
        assert!(["EROFS", "EACCES", "ENOENT", "EPERM"].contains(&errno(p).as_str()), "write to {p}: {}", errno(p));
    }
    for p in host_paths {
        assert!(!Path::new(p).exists(), "{p} appeared on the host");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default(), core_pattern);
}

#[test]
fn javascript_writes_outside_scratch_fail_and_change_nothing_on_the_host() {
    require_jails!();
    for p in ["/usr/x", "/x"] {
        assert!(!Path::new(p).exists(), "{p} exists on the host before the run");
    }
    let r = js(r#"
        const fs = require("fs");
        const out = {};
        for (const p of ["/usr/x", "/x", "/jaild/runner.cjs", "/jaild/x", "/lib/x", "/proc/1/oom_score_adj", process.execPath]) {
          try { fs.appendFileSync(p, "pwned"); out[p] = "written"; } catch (e) { out[p] = e.code; }
        }
        out.execPath = process.execPath;
        return out;
        "#);
    assert_ok(&r);
    let errno = |p: &str| r.result[p].as_str().unwrap_or("?").to_string();
    let exec_path = r.result["execPath"].as_str().unwrap_or("?").to_string();
    for p in ["/x", "/jaild/runner.cjs", "/jaild/x", "/lib/x", exec_path.as_str()] {
        assert!(["EROFS", "EACCES"].contains(&errno(p).as_str()), "write to {p}: {}", errno(p));
    }
    // The node jail has no /usr at all: the read-only root refuses, or the directory is missing.
    for p in ["/usr/x", "/proc/1/oom_score_adj"] {
        assert!(["EROFS", "EACCES", "ENOENT"].contains(&errno(p).as_str()), "write to {p}: {}", errno(p));
    }
    for p in ["/usr/x", "/x"] {
        assert!(!Path::new(p).exists(), "{p} appeared on the host");
    }
}

#[test]
fn typescript_writes_outside_scratch_fail() {
    require_jails!();
    let r = ts(r#"
        const fs = require("fs");
        const tryWrite = (p: string): string => {
          try { fs.writeFileSync(p, "pwned"); return "written"; } catch (e: any) { return e.code as string; }
        };
        return { root: tryWrite("/x"), runner: tryWrite("/jaild/runner.cjs"), tmp: tryWrite("/tmp/ok") };
        "#);
    assert_ok(&r);
    assert!(["EROFS", "EACCES"].contains(&r.result["root"].as_str().unwrap_or("?")), "{}", show(&r));
    assert!(["EROFS", "EACCES"].contains(&r.result["runner"].as_str().unwrap_or("?")), "{}", show(&r));
    assert_eq!(r.result["tmp"], json!("written"));
}

#[test]
fn python_scratch_dirs_are_writable_and_read_back() {
    require_jails!();
    let r = py(r#"
        import os
        with open("/tmp/a.txt", "w") as f:
            f.write("in tmp")
        os.makedirs("/work/sub/dir")
        with open("/work/sub/dir/b.txt", "w") as f:
            f.write("in work")
        with open("relative.txt", "w") as f:
            f.write("in cwd")
        os.rename("/tmp/a.txt", "/tmp/c.txt")
        result = [open("/tmp/c.txt").read(), open("/work/sub/dir/b.txt").read(), open("/work/relative.txt").read(),
                  os.getcwd(), sorted(os.listdir("/tmp")), os.environ["HOME"]]
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!(["in tmp", "in work", "in cwd", "/work", ["c.txt"], "/work"]));
}

#[test]
fn javascript_scratch_dirs_are_writable_and_read_back() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        const os = require("os");
        fs.writeFileSync("/tmp/a.txt", "in tmp");
        fs.mkdirSync("/work/sub/dir", { recursive: true });
        await fs.promises.writeFile("/work/sub/dir/b.txt", "in work");
        fs.writeFileSync("relative.txt", "in cwd");
        return [fs.readFileSync("/tmp/a.txt", "utf8"), await fs.promises.readFile("/work/sub/dir/b.txt", "utf8"),
                fs.readFileSync("/work/relative.txt", "utf8"), process.cwd(), os.tmpdir()];
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!(["in tmp", "in work", "in cwd", "/work", "/tmp"]));
}

#[test]
fn python_host_secrets_and_system_dirs_are_not_readable() {
    require_jails!();
    let r = py(r#"
        import os
        out = {}
        for p in ["/etc/shadow", "/root", "/home", "/sys", "/run", "/etc", "/var", "/boot",
                  "/proc/1/environ", "/proc/1/root", "/proc/sys", "/proc/kcore", "/"]:
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    os.listdir(p)
                else:
                    open(p, "rb").read(16)
                out[p] = "read"
            except OSError as e:
                out[p] = type(e).__name__
        # /etc/passwd is the jail's own (root, jail, nobody), never the host's.
        out["/etc/passwd users"] = sorted({l.split(":")[0] for l in open("/etc/passwd") if l.strip()})
        result = out
        "#);
    assert_ok(&r);
    let mut map = r.result.as_object().cloned().unwrap_or_default();
    assert_eq!(map.remove("/etc/passwd users"), Some(json!(["jail", "nobody", "root"])), "{}", show(&r));
    assert_eq!(map.len(), 13, "{}", show(&r));
    for (path, outcome) in map {
        let outcome = outcome.as_str().unwrap_or("?").to_string();
        assert!(
            outcome == "FileNotFoundError" || outcome == "PermissionError",
            "{path} was readable or failed oddly: {outcome}"
        );
    }
}

#[test]
fn javascript_host_secrets_and_system_dirs_are_not_readable() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        const out = {};
        for (const p of ["/etc/shadow", "/root", "/home", "/sys", "/run", "/etc", "/var", "/usr",
                         "/proc/1/environ", "/proc/sys", "/"]) {
          try {
            if (fs.statSync(p).isDirectory()) fs.readdirSync(p); else fs.readFileSync(p);
            out[p] = "read";
          } catch (e) { out[p] = e.code; }
        }
        // /etc/passwd is the jail's own (root, jail, nobody), never the host's.
        out["/etc/passwd users"] = [...new Set(fs.readFileSync("/etc/passwd", "utf8").split("\n").filter((l) => l.trim()).map((l) => l.split(":")[0]))].sort();
        return out;
        "#);
    assert_ok(&r);
    let mut map = r.result.as_object().cloned().unwrap_or_default();
    assert_eq!(map.remove("/etc/passwd users"), Some(json!(["jail", "nobody", "root"])), "{}", show(&r));
    assert_eq!(map.len(), 11, "{}", show(&r));
    for (path, outcome) in map {
        let outcome = outcome.as_str().unwrap_or("?").to_string();
        assert!(outcome == "ENOENT" || outcome == "EACCES" || outcome == "EPERM", "{path} was readable: {outcome}");
    }
}

#[test]
fn python_files_do_not_survive_into_the_next_run() {
    require_jails!();
    let r = py(r#"
        import os
        open("/tmp/marker", "w").write("first run")
        open("/work/marker", "w").write("first run")
        result = [os.listdir("/tmp"), os.listdir("/work")]
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!([["marker"], ["marker"]]));
    let r = py("import os\nresult = [os.listdir('/tmp'), os.listdir('/work')]");
    assert_ok(&r);
    assert_eq!(r.result, json!([[], []]), "scratch is fresh each run");
}

#[test]
fn javascript_files_do_not_survive_into_the_next_run() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        fs.writeFileSync("/tmp/marker", "first run");
        fs.writeFileSync("/work/marker", "first run");
        return [fs.readdirSync("/tmp"), fs.readdirSync("/work")];
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!([["marker"], ["marker"]]));
    let r = js(r#"const fs = require("fs"); return [fs.readdirSync("/tmp"), fs.readdirSync("/work")];"#);
    assert_ok(&r);
    assert_eq!(r.result, json!([[], []]), "scratch is fresh each run");
}

#[test]
fn python_scratch_space_is_limited() {
    require_jails!();
    let r = py(r#"
        import errno
        out = {}
        def fill(path, mib):
            try:
                with open(path, "wb") as f:
                    for _ in range(mib):
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                return "ok"
            except OSError as e:
                return errno.errorcode[e.errno]
        out["one_20mib_file"] = fill("/tmp/big", 20)
        import os
        os.unlink("/tmp/big")
        out["first_10mib"] = fill("/tmp/a", 10)
        out["second_10mib"] = fill("/tmp/b", 10)
        result = out
        "#);
    assert_ok(&r);
    let one = r.result["one_20mib_file"].as_str().unwrap_or("?");
    assert!(one == "ENOSPC" || one == "EFBIG", "a 20 MiB file in a 16 MiB /tmp: {one}");
    assert_eq!(r.result["first_10mib"], json!("ok"));
    assert_eq!(r.result["second_10mib"], json!("ENOSPC"), "the tmpfs itself is 16 MiB: {}", show(&r));
}

#[test]
fn javascript_scratch_space_is_limited() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        const fill = (p, mib) => { try { fs.writeFileSync(p, Buffer.alloc(mib << 20)); return "ok"; } catch (e) { return e.code; } };
        const one = fill("/tmp/big", 20);
        fs.rmSync("/tmp/big", { force: true });
        return { one, first: fill("/work/a", 10), second: fill("/work/b", 10) };
        "#);
    assert_ok(&r);
    let one = r.result["one"].as_str().unwrap_or("?");
    assert!(one == "ENOSPC" || one == "EFBIG", "a 20 MiB file in a 16 MiB /tmp: {one}");
    assert_eq!(r.result["first"], json!("ok"));
    assert_eq!(r.result["second"], json!("ENOSPC"), "{}", show(&r));
}

#[test]
fn python_scratch_inodes_are_limited() {
    require_jails!();
    let r = py(r#"
        import errno
        n = 0
        try:
            for i in range(2000):
                open(f"/work/f{i}", "w").close()
                n += 1
            outcome = "ok"
        except OSError as e:
            outcome = errno.errorcode[e.errno]
        result = [outcome, n]
        "#);
    assert_ok(&r);
    assert_eq!(r.result[0], json!("ENOSPC"), "{}", show(&r));
    let n = r.result[1].as_u64().unwrap_or(0);
    assert!(n > 900 && n < 1024, "files created before the inode limit: {n}");
}

#[test]
fn javascript_scratch_inodes_are_limited() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        let n = 0;
        try { for (let i = 0; i < 2000; i++) { fs.writeFileSync(`/tmp/f${i}`, ""); n++; } return ["ok", n]; }
        catch (e) { return [e.code, n]; }
        "#);
    assert_ok(&r);
    assert_eq!(r.result[0], json!("ENOSPC"), "{}", show(&r));
    assert!(r.result[1].as_u64().unwrap_or(0) < 1024);
}

#[test]
fn python_copied_interpreter_cannot_be_executed_from_scratch() {
    require_jails!();
    // /tmp is noexec and Landlock grants execute to the interpreter and loader only.
    // (subprocess is blocked by the shipped policy layer; the kernel-only profile lets it through.)
    let r = ko(
        "python",
        r#"
        import errno, os, shutil, subprocess, sys
        shutil.copy(sys.executable, "/tmp/py")
        os.chmod("/tmp/py", 0o755)
        out = {}
        for cmd in ["/tmp/py", "/bin/sh", "/usr/bin/env"]:
            try:
                subprocess.run([cmd, "-c", "print(1)"], capture_output=True)
                out[cmd] = "executed"
            except OSError as e:
                out[cmd] = errno.errorcode[e.errno]
        out["self"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout
        result = out
        "#,
    );
    assert_ok(&r);
    assert_eq!(r.result["/tmp/py"], json!("EACCES"), "{}", show(&r));
    assert_eq!(r.result["/bin/sh"], json!("ENOENT"), "no host binaries in the jail: {}", show(&r));
    assert_eq!(r.result["/usr/bin/env"], json!("ENOENT"), "{}", show(&r));
    assert_eq!(r.result["self"], json!("42\n"), "the interpreter itself may run: {}", show(&r));
}

#[test]
fn javascript_child_process_cannot_run_host_binaries() {
    require_jails!();
    let r = ko(
        "javascript",
        r#"
        const cp = require("child_process");
        const fs = require("fs");
        // A script of the jail's own in the writable scratch dir, with its exec bit set.
        fs.writeFileSync("/tmp/run", `#!${process.execPath}\nconsole.log("ran")\n`, { mode: 0o755 });
        const out = {};
        for (const cmd of ["/bin/sh", "/usr/bin/id", "/tmp/run"]) {
          const p = cp.spawnSync(cmd, ["-c", "id"], { encoding: "utf8" });
          out[cmd] = p.error ? p.error.code : "ran";
        }
        out.self = cp.spawnSync(process.execPath, ["-e", "console.log(6 * 7)"], { encoding: "utf8" }).stdout;
        return out;
        "#,
    );
    assert_ok(&r);
    assert_eq!(
        r.result,
        json!({"/bin/sh": "ENOENT", "/usr/bin/id": "ENOENT", "/tmp/run": "EACCES", "self": "42\n"}),
        "{}",
        show(&r)
    );
}

// ------------------------------------------------------------------------------------------
// 11. network

/// A real listener on the host's loopback; afterwards, it must have received nothing.
struct HostListener(std::net::TcpListener);

impl HostListener {
    fn new() -> HostListener {
        HostListener(must(std::net::TcpListener::bind("127.0.0.1:0"), "bind a host listener"))
    }

    fn port(&self) -> u16 {
        must(self.0.local_addr(), "listener address").port()
    }

    fn assert_untouched(&self) {
        must(self.0.set_nonblocking(true), "nonblocking listener");
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("the host listener received a connection from the jail: {other:?}"),
        }
    }
}

#[test]
fn python_socket_module_is_blocked_by_the_shipped_policy() {
    require_jails!();
    let r = py("import socket\nresult = 1");
    assert_status(&r, Status::RuntimeError);
    let e = r.error.as_ref().unwrap_or_else(|| panic!("{}", show(&r)));
    assert_eq!(e.kind, "ModuleNotFoundError");
    assert!(r.violations.iter().any(|v| v.kind == "blocked_module" && v.detail == "socket"), "{}", show(&r));
}

#[test]
fn python_tcp_connect_is_denied_by_seccomp_and_reaches_nothing() {
    require_jails!();
    let listener = HostListener::new();
    let code = dedent(
        r#"
        import errno, socket
        out = {}
        for name, addr in [("host_listener", ("127.0.0.1", input["port"])), ("internet", ("1.1.1.1", 53))]:
            try:
                socket.create_connection(addr, timeout=2).close()
                out[name] = "connected"
            except OSError as e:
                out[name] = errno.errorcode.get(e.errno, str(e))
        result = out
        "#,
    );
    let input = format!(r#"{{"port": {}}}"#, listener.port());
    let r = run_with(kernel_only_supervisor(), "python", &code, Some(&input), LimitOverrides::default());
    assert_denied(&r, "socket(AF_INET)");
    assert_eq!(r.result, json!({"host_listener": "EPERM", "internet": "EPERM"}), "{}", show(&r));
    assert_eq!(syscall_violation(&r, "socket(AF_INET)").map(|v| v.count), Some(2));
    listener.assert_untouched();
}

#[test]
fn python_non_unix_socket_families_are_denied_and_named() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import errno, socket
        out = {}
        for name, family, kind in [("AF_INET6", socket.AF_INET6, socket.SOCK_DGRAM), ("AF_VSOCK", 40, socket.SOCK_STREAM),
                                   ("AF_PACKET", 17, socket.SOCK_RAW), ("AF_NETLINK", 16, socket.SOCK_RAW),
                                   ("AF_UNIX", socket.AF_UNIX, socket.SOCK_STREAM)]:
            try:
                socket.socket(family, kind).close()
                out[name] = "created"
            except OSError as e:
                out[name] = errno.errorcode[e.errno]
        result = out
        "#,
    );
    assert_eq!(
        r.result,
        json!({"AF_INET6": "EPERM", "AF_VSOCK": "EPERM", "AF_PACKET": "EPERM", "AF_NETLINK": "EPERM", "AF_UNIX": "created"}),
        "{}",
        show(&r)
    );
    for family in ["AF_INET6", "AF_VSOCK", "AF_PACKET", "AF_NETLINK"] {
        assert_denied(&r, &format!("socket({family})"));
    }
    assert!(syscall_violation(&r, "socket(AF_UNIX)").is_none());
}

#[test]
fn javascript_net_module_is_blocked_by_the_shipped_policy() {
    require_jails!();
    let r = js(r#"const net = require("net"); return 1;"#);
    assert_status(&r, Status::RuntimeError);
    assert!(r.violations.iter().any(|v| v.kind == "blocked_module" && v.detail == "net"), "{}", show(&r));
    assert!(r.error.as_ref().map(|e| e.message.contains("blocked")).unwrap_or(false), "{}", show(&r));
}

#[test]
fn javascript_tcp_connect_is_denied_by_seccomp_and_reaches_nothing() {
    require_jails!();
    let listener = HostListener::new();
    let code = dedent(
        r#"
        const net = require("net");
        return await new Promise((resolve) => {
          const s = net.connect({ host: "127.0.0.1", port: input.port });
          s.on("connect", () => resolve("connected"));
          s.on("error", (e) => resolve(e.code));
        });
        "#,
    );
    let input = format!(r#"{{"port": {}}}"#, listener.port());
    let r = run_with(kernel_only_supervisor(), "javascript", &code, Some(&input), LimitOverrides::default());
    assert_denied(&r, "socket(AF_INET)");
    assert_eq!(r.result, json!("EPERM"));
    listener.assert_untouched();
}

#[test]
fn javascript_fetch_around_the_policy_layer_is_stopped_by_the_kernel() {
    require_jails!();
    // fetch() needs no require: the policy layer does not see it; seccomp does.
    let listener = HostListener::new();
    let code = dedent(
        r#"
        const out = {};
        for (const url of [`http://127.0.0.1:${input.port}/`, "http://1.1.1.1/"]) {
          try { await fetch(url); out[url] = "fetched"; } catch (e) { out[url] = e.cause ? e.cause.code : String(e); }
        }
        return Object.values(out);
        "#,
    );
    let input = format!(r#"{{"port": {}}}"#, listener.port());
    let r = run_with(supervisor(), "javascript", &code, Some(&input), LimitOverrides::default());
    assert_denied(&r, "socket(AF_INET)");
    assert_eq!(r.result, json!(["EPERM", "EPERM"]), "{}", show(&r));
    listener.assert_untouched();
}

#[test]
fn typescript_fetch_is_stopped_by_the_kernel() {
    require_jails!();
    let r = ts(r#"
        const url: string = "http://1.1.1.1/";
        try { const res: Response = await fetch(url); return res.status; } catch (e: any) { return e.cause?.code ?? String(e); }
        "#);
    assert_denied(&r, "socket(AF_INET)");
    assert_eq!(r.result, json!("EPERM"));
}

#[test]
fn javascript_udp_send_is_denied_by_seccomp() {
    require_jails!();
    let r = ko(
        "javascript",
        r#"
        const dgram = require("dgram");
        return await new Promise((resolve) => {
          try {
            const s = dgram.createSocket("udp4");
            s.on("error", (e) => resolve(e.code));
            s.send("x", 53, "1.1.1.1", (e) => resolve(e ? e.code : "sent"));
          } catch (e) { resolve(e.code); }
        });
        "#,
    );
    assert_denied(&r, "socket(AF_INET)");
    assert_eq!(r.result, json!("EPERM"));
}

// ------------------------------------------------------------------------------------------
// 12. processes

#[test]
fn python_sees_only_the_jails_own_processes() {
    require_jails!();
    let r = py(r#"
        import os, time
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(0)
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        cmdlines = {p: open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].decode() for p in pids}
        os.kill(child, 9)
        os.waitpid(child, 0)
        result = {"pids": pids, "me": os.getpid(), "child": child, "cmdlines": list(cmdlines.values())}
        "#);
    assert_ok(&r);
    let pids: Vec<u64> =
        r.result["pids"].as_array().map(|a| a.iter().filter_map(|v| v.as_u64()).collect()).unwrap_or_default();
    let me = r.result["me"].as_u64().unwrap_or(0);
    let child = r.result["child"].as_u64().unwrap_or(0);
    assert_eq!(pids, vec![me, child], "only the script and its child are visible: {}", show(&r));
    assert!(pids.iter().all(|p| *p < 100), "pids are the jail's own: {pids:?}");
    assert!(!pids.contains(&u64::from(std::process::id())), "the test process is visible");
    for cmd in r.result["cmdlines"].as_array().cloned().unwrap_or_default() {
        assert_eq!(cmd, json!("/usr/bin/python3.11"), "{}", show(&r));
    }
}

#[test]
fn javascript_sees_only_the_jails_own_processes() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        return { pids: fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number), me: process.pid, ppid: process.ppid };
        "#);
    assert_ok(&r);
    let me = r.result["me"].as_u64().unwrap_or(0);
    assert_eq!(r.result["pids"], json!([me]), "{}", show(&r));
    assert!(me < 100 && r.result["ppid"].as_u64().unwrap_or(0) < 100, "{}", show(&r));
}

#[test]
fn ptrace_attach_is_denied_and_reported() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.restype = ctypes.c_long
        rv = libc.ptrace(ctypes.c_long(16), ctypes.c_long(1), None, None)  # PTRACE_ATTACH, pid 1
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_denied(&r, "ptrace");
    assert_eq!(r.result, json!([-1, 1]), "EPERM: {}", show(&r));
}

#[test]
fn unshare_of_a_user_namespace_is_denied_and_reported() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        rv = libc.unshare(0x10000000)  # CLONE_NEWUSER
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_denied(&r, "unshare(CLONE_NEWUSER)");
    assert_eq!(r.result, json!([-1, 1]), "{}", show(&r));
}

#[test]
fn clone_into_a_user_namespace_is_denied_and_reported() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        # SYS_clone(CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
        rv = libc.syscall(ctypes.c_long(56), ctypes.c_long(0x10000000 | 17), ctypes.c_long(0), ctypes.c_long(0),
                          ctypes.c_long(0), ctypes.c_long(0))
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_denied(&r, "clone(CLONE_NEWUSER)");
    assert_eq!(r.result, json!([-1, 1]), "{}", show(&r));
}

#[test]
fn kill_all_from_the_jail_reaches_only_the_jail() {
    require_jails!();
    // A host process of the test's own: kill(-1) inside the jail must not reach it.
    let mut host_child = must(std::process::Command::new("sleep").arg("30").spawn(), "spawn sleep");
    let r = py(r#"
        import os, signal, time
        sibling = os.fork()
        if sibling == 0:
            time.sleep(30)
            os._exit(0)
        os.kill(-1, signal.SIGKILL)
        _, status = os.waitpid(sibling, 0)
        result = {"sibling_signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, "i_survived": True}
        "#);
    let alive = must(host_child.try_wait(), "try_wait").is_none();
    let _ = host_child.kill();
    let _ = host_child.wait();
    assert!(alive, "kill(-1) in the jail killed a host process");
    assert_ok(&r);
    assert_eq!(
        r.result,
        json!({"sibling_signal": 9, "i_survived": true}),
        "kill(-1) works inside the jail: {}",
        show(&r)
    );
    assert!(r.usage.wall_ms < 3000, "{}", show(&r));
}

#[test]
fn javascript_kill_all_reaches_nothing_outside() {
    require_jails!();
    let mut host_child = must(std::process::Command::new("sleep").arg("30").spawn(), "spawn sleep");
    let r = js(r#"try { process.kill(-1, "SIGKILL"); return "sent"; } catch (e) { return e.code; }"#);
    let alive = must(host_child.try_wait(), "try_wait").is_none();
    let _ = host_child.kill();
    let _ = host_child.wait();
    assert!(alive, "kill(-1) in the jail killed a host process");
    assert_ok(&r);
    // Alone in its PID namespace (pid 1 is exempt), the script has nobody to signal.
    assert_eq!(r.result, json!("ESRCH"));
}

#[test]
fn double_forked_grandchild_does_not_outlive_the_run() {
    require_jails!();
    let r = py(r#"
        import os, time
        child = os.fork()
        if child == 0:
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        os.waitpid(child, 0)
        result = "parent done"
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!("parent done"));
    assert!(r.usage.wall_ms < 2000, "the run waited for its orphan: {}", show(&r));
    assert!(r.usage.pids_peak.unwrap_or(0) >= 3, "{}", show(&r));
    // assert_no_leftovers (in `run`) removed the cgroup: nobody is left in it.
}

#[test]
fn daemon_with_setsid_does_not_outlive_the_run() {
    require_jails!();
    // The classic daemon: fork, setsid, fork, and the grandchild lingers.
    let r = py(r#"
        import os, time
        child = os.fork()
        if child == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        os.waitpid(child, 0)
        result = "parent done"
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!("parent done"));
    assert!(r.usage.wall_ms < 2000, "the run waited for its daemon: {}", show(&r));
}

#[test]
fn python_forked_child_that_raises_does_not_replace_the_scripts_result() {
    require_jails!();
    let r = py(r#"
        import os
        child = os.fork()
        if child == 0:
            raise RuntimeError("the child fails")
        os.waitpid(child, 0)
        result = "parent"
        "#);
    assert_ok(&r);
    assert_eq!(r.result, json!("parent"));
}

// ------------------------------------------------------------------------------------------
// 13. seccomp details

#[test]
fn kernel_attack_surface_syscalls_fail_with_eperm_and_are_named() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        out = {}
        def call(name, nr, *args):
            ctypes.set_errno(0)
            rv = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
            out[name] = [rv, ctypes.get_errno()]
        call("bpf", 321, 0, 0, 0)
        call("perf_event_open", 298, 0, 0, -1, -1, 0)
        call("userfaultfd", 323, 0)
        call("keyctl", 250, 0, 0, 0, 0, 0)
        call("mount", 165, 0, 0, 0, 0, 0)
        call("open_by_handle_at", 304, 0, 0, 0)
        call("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
        call("kexec_load", 246, 0, 0, 0, 0)
        call("init_module", 175, 0, 0, 0)
        call("personality", 135, 0xffffffff)
        result = out
        "#,
    );
    let names = [
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "keyctl",
        "mount",
        "open_by_handle_at",
        "process_vm_readv",
        "kexec_load",
        "init_module",
        "personality",
    ];
    for name in names {
        assert_eq!(r.result[name], json!([-1, libc::EPERM]), "{name}: {}", show(&r));
        assert_denied(&r, name);
        assert_eq!(syscall_violation(&r, name).map(|v| v.count), Some(1), "{name}");
    }
    assert_eq!(loud(&r).len(), names.len(), "{}", show(&r));
    assert_eq!(r.exit_code, Some(0), "the script went on after each denial");
    let message = r.message.as_deref().unwrap_or("");
    assert!(names.iter().all(|n| message.contains(n)), "the message names every denial: {message}");
}

#[test]
fn tiocsti_ioctl_is_denied_even_with_high_bits_set() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        c = ctypes.c_char(b"x")
        out = []
        for cmd in [0x5412, 0x100005412]:
            ctypes.set_errno(0)
            rv = libc.syscall(ctypes.c_long(16), ctypes.c_long(0), ctypes.c_long(cmd), ctypes.byref(c))
            out.append([rv, ctypes.get_errno()])
        result = out
        "#,
    );
    assert_eq!(r.result, json!([[-1, libc::EPERM], [-1, libc::EPERM]]), "{}", show(&r));
    let ioctls: Vec<&Violation> = r.violations.iter().filter(|v| v.detail.starts_with("ioctl")).collect();
    assert_eq!(ioctls.len(), 2, "both ioctls are reported: {}", show(&r));
    assert!(ioctls.iter().all(|v| v.detail.contains("TIOCSTI") && !v.quiet), "{}", show(&r));
    assert!(ioctls.iter().any(|v| v.detail.contains("0x100005412")), "the full 64-bit request is shown: {}", show(&r));
    assert_status(&r, Status::SecurityViolation);
}

#[test]
fn clone3_gets_enosys_quietly_and_the_run_stays_ok() {
    require_jails!();
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        rv = libc.syscall(ctypes.c_long(435), ctypes.c_long(0), ctypes.c_long(0))
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_ok(&r);
    assert_eq!(r.result, json!([-1, libc::ENOSYS]));
    let v = syscall_violation(&r, "clone3").unwrap_or_else(|| panic!("clone3 is reported: {}", show(&r)));
    assert!(v.quiet, "{}", show(&r));
}

#[test]
fn nodes_io_uring_and_clone3_probes_are_quiet_and_the_run_stays_ok() {
    require_jails!();
    // libuv probes io_uring at start and glibc tries clone3 for every thread: the node policy
    // answers ENOSYS quietly, and the run is ok.
    let r = js("return 1;");
    assert_ok(&r);
    for name in ["io_uring_setup", "clone3"] {
        let v = syscall_violation(&r, name).unwrap_or_else(|| panic!("{name} probe not reported: {}", show(&r)));
        assert!(v.quiet && v.count >= 1, "{}", show(&r));
    }
}

#[test]
fn python_io_uring_setup_is_denied_as_the_profile_says() {
    require_jails!();
    // The python policy has no entry for io_uring_setup (CPython never probes it): the default
    // answer, EPERM, reported as a violation.
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        params = (ctypes.c_char * 120)()
        rv = libc.syscall(ctypes.c_long(425), ctypes.c_long(1), params)
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_eq!(r.result, json!([-1, libc::EPERM]), "{}", show(&r));
    assert_denied(&r, "io_uring_setup");
}

#[test]
fn x32_syscall_is_a_reported_violation_that_stops_the_run() {
    require_jails!();
    // The filter sends any number with the x32 bit to the supervisor, which names it by its x32
    // number (never by the x86_64 table), leaves it unanswered and stops the run at once: the
    // script neither returns from the call nor sleeps out the 5 s wall time.
    let r = ko(
        "python",
        r#"
        import ctypes, time
        libc = ctypes.CDLL(None, use_errno=True)
        print("before", flush=True)
        libc.syscall(ctypes.c_long(0x40000000 | 39))  # getpid through the x32 ABI
        print("after", flush=True)
        time.sleep(5)
        result = "survived"
        "#,
    );
    assert_denied(&r, "x32 syscall 39");
    assert_eq!(r.result, serde_json::Value::Null, "{}", show(&r));
    assert_eq!(r.stdout, "before\n", "{}", show(&r));
    assert!(r.usage.wall_ms < 3000, "the run was not stopped at once: {}", show(&r));
    let message = r.message.clone().unwrap_or_default();
    assert!(message.contains("another architecture") && message.contains("stopped"), "{message}");
}

// ------------------------------------------------------------------------------------------
// 14. inherited state

#[test]
fn environment_is_exactly_the_profiles() {
    require_jails!();
    std::env::set_var("JAILD_TEST_CANARY", "leak");
    for (language, code) in [
        ("python", "import os\nresult = dict(os.environ)"),
        ("javascript", "return { ...process.env };"),
        ("typescript", "const env: Record<string, string | undefined> = { ...process.env };\nreturn env;"),
    ] {
        let r = run(language, code);
        assert_ok(&r);
        let expected: BTreeMap<String, String> = profile(language).file.environment;
        assert!(!expected.is_empty());
        assert_eq!(r.result, json!(expected), "{language}: {}", show(&r));
        assert!(r.result.get("JAILD_TEST_CANARY").is_none());
    }
}

#[test]
fn python_has_only_its_standard_fds() {
    require_jails!();
    let r = py(r#"
        import os
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        links = {}
        for f in fds:
            try:
                links[f] = os.readlink(f"/proc/self/fd/{f}")
            except OSError:
                links[f] = None  # the directory fd used for the listing, closed by now
        result = {"fds": fds, "links": links}
        "#);
    assert_ok(&r);
    // 0-2 stdio, 3 the listing's own directory fd (the job fd was closed), 4 the result fd.
    assert_eq!(r.result["fds"], json!([0, 1, 2, 3, 4]), "{}", show(&r));
    let links = &r.result["links"];
    assert_eq!(links["0"], json!("/dev/null"));
    for fd in ["1", "2", "4"] {
        assert!(links[fd].as_str().unwrap_or("").starts_with("pipe:"), "fd {fd}: {}", show(&r));
    }
}

#[test]
fn javascript_fds_reach_nothing_of_the_host() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        return fs.readdirSync("/proc/self/fd").map((f) => { try { return fs.readlinkSync(`/proc/self/fd/${f}`); } catch (e) { return null; } });
        "#);
    assert_ok(&r);
    let links = r.result.as_array().cloned().unwrap_or_default();
    assert!(links.len() >= 5, "{}", show(&r));
    for link in links.iter().filter_map(|l| l.as_str()) {
        assert!(
            link == "/dev/null" || link.starts_with("pipe:") || link.starts_with("anon_inode:"),
            "an fd to {link} in the jail: {}",
            show(&r)
        );
    }
}

#[test]
fn python_runs_unprivileged_as_uid_1000_without_a_terminal() {
    require_jails!();
    let r = py(r#"
        import errno, os
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
        try:
            open("/dev/tty").close()
            tty = "opened"
        except OSError as e:
            tty = errno.errorcode[e.errno]
        result = {"ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()], "groups": os.getgroups(), "tty": tty,
                  "caps": [status[k].strip() for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]],
                  "no_new_privs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
                  "ppid": os.getppid(), "hostname": os.uname().nodename}
        "#);
    assert_ok(&r);
    assert_eq!(r.result["ids"], json!([1000, 1000, 1000, 1000]));
    assert_eq!(r.result["groups"], json!([]));
    assert!(["ENOENT", "ENXIO", "EACCES"].contains(&r.result["tty"].as_str().unwrap_or("opened")), "{}", show(&r));
    assert_eq!(r.result["caps"], json!(vec!["0000000000000000"; 5]), "no capabilities at all");
    assert_eq!(r.result["no_new_privs"], json!("1"));
    assert_eq!(r.result["seccomp"], json!("2"), "a seccomp filter is on");
    assert_eq!(r.result["ppid"], json!(1), "the parent is the jail's init");
    assert_ne!(r.result["hostname"].as_str(), Some(hostname().as_str()), "the host name shows through");
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}

#[test]
fn javascript_runs_unprivileged_as_uid_1000_without_a_terminal() {
    require_jails!();
    let r = js(r#"
        const fs = require("fs");
        const os = require("os");
        let tty;
        try { fs.closeSync(fs.openSync("/dev/tty", "r")); tty = "opened"; } catch (e) { tty = e.code; }
        return { ids: [process.getuid(), process.geteuid(), process.getgid(), process.getegid()],
                 groups: process.getgroups(), tty, hostname: os.hostname() };
        "#);
    assert_ok(&r);
    assert_eq!(r.result["ids"], json!([1000, 1000, 1000, 1000]));
    // Node always adds the effective gid to getgroups(); no supplementary group besides.
    let groups = r.result["groups"].as_array().cloned().unwrap_or_default();
    assert!(groups.iter().all(|g| g == &json!(1000)), "{}", show(&r));
    assert!(["ENOENT", "ENXIO", "EACCES"].contains(&r.result["tty"].as_str().unwrap_or("opened")), "{}", show(&r));
    assert_ne!(r.result["hostname"].as_str(), Some(hostname().as_str()));
}

#[test]
fn every_namespace_differs_from_the_hosts() {
    require_jails!();
    let r = py(r#"
        import os
        result = {n: os.readlink(f"/proc/self/ns/{n}") for n in ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"]}
        "#);
    assert_ok(&r);
    for ns in ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        let host = must(std::fs::read_link(format!("/proc/self/ns/{ns}")), "host namespace");
        let jail = r.result[ns].as_str().unwrap_or("?");
        assert!(jail.starts_with(&format!("{ns}:[")), "{ns}: {jail}");
        assert_ne!(jail, host.to_string_lossy(), "the jail shares the host's {ns} namespace");
    }
}

// ------------------------------------------------------------------------------------------
// 15. the enforcement block

fn assert_enforcement(r: &Report, profile_name: &str, interpreter_name: &str) {
    assert_ok(r);
    let e = &r.enforcement;
    assert_eq!(e.cgroup.as_deref(), Some(host_cgroup_version()), "{}", show(r));
    let abi = kernel_landlock_abi();
    assert!(abi >= 1, "this kernel has no Landlock");
    assert_eq!(e.landlock_abi.map(i64::from), Some(abi), "the running kernel's ABI: {}", show(r));
    for right in ["execute", "write_file", "read_file", "read_dir", "make_reg", "refer", "truncate"] {
        assert!(e.landlock_rights.iter().any(|x| x == right), "{right} not handled: {}", show(r));
    }
    if abi >= 6 {
        for scope in ["abstract_unix_socket", "signal"] {
            assert!(e.landlock_scopes.iter().any(|x| x == scope), "{scope}: {}", show(r));
        }
        assert_eq!(e.landlock_net, ["bind_tcp", "connect_tcp"], "{}", show(r));
        assert!(e.landlock_covered.is_empty(), "every right is Landlock's own on this kernel: {}", show(r));
    }
    assert!(e.seccomp.is_some());
    for ns in ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"] {
        assert!(e.namespaces.iter().any(|x| x == ns), "{ns} missing: {}", show(r));
    }

    let p = profile(profile_name);
    let info = r.profile.as_ref().unwrap_or_else(|| panic!("no profile info: {}", show(r)));
    assert_eq!(info.name, profile_name);
    assert_eq!(info.sha256, p.sha256);
    assert_eq!(info.seccomp_sha256, p.seccomp.sha256);
    assert_eq!(info.sha256.len(), 64);

    let manifest = must(jaild::interpreter::load(&repo().join("interpreters"), interpreter_name), "manifest").manifest;
    let i = r.interpreter.as_ref().unwrap_or_else(|| panic!("no interpreter info: {}", show(r)));
    assert_eq!(i.name, interpreter_name);
    assert_eq!(i.version, manifest.version);
    assert!(!i.version.is_empty());
    assert_eq!(i.sha256, manifest.sha256);
    assert_eq!(
        i.sha256,
        must(jaild::interpreter::sha256_file(&manifest.binary), "hash the binary"),
        "the binary that ran"
    );
    assert!(!r.started_at.is_empty() && r.started_at <= r.finished_at, "{}", show(r));
}

#[test]
fn python_report_names_what_enforced_the_run() {
    require_jails!();
    let r = py("result = 1");
    assert_enforcement(&r, "python", "python3.11");
    if host_cgroup_version() == "v1" && kernel_landlock_abi() == 7 {
        assert_eq!((r.enforcement.cgroup.as_deref(), r.enforcement.landlock_abi), (Some("v1"), Some(7)));
    }
}

#[test]
fn javascript_report_names_what_enforced_the_run() {
    require_jails!();
    let r = js("return 1;");
    assert_enforcement(&r, "javascript", "node24");
}

#[test]
fn typescript_report_names_what_enforced_the_run() {
    require_jails!();
    let r = ts("const x: number = 1;\nreturn x;");
    assert_enforcement(&r, "typescript", "node24");
}

// ------------------------------------------------------------------------------------------
// 16. concurrency

#[test]
fn parallel_runs_are_isolated_and_all_ok() {
    require_jails!();
    let jobs: [(&str, &str, serde_json::Value); 4] = [
        ("python", "import os, time\nopen('/tmp/who', 'w').write('py1')\ntime.sleep(0.2)\nresult = [open('/tmp/who').read(), os.listdir('/tmp')]", json!(["py1", ["who"]])),
        ("javascript", "const fs = require('fs');\nfs.writeFileSync('/tmp/who', 'js');\nawait new Promise((r) => setTimeout(r, 200));\nreturn [fs.readFileSync('/tmp/who', 'utf8'), fs.readdirSync('/tmp')];", json!(["js", ["who"]])),
        ("python", "import os, time\nopen('/tmp/who', 'w').write('py2')\ntime.sleep(0.2)\nresult = [open('/tmp/who').read(), os.listdir('/tmp')]", json!(["py2", ["who"]])),
        ("typescript", "const fs = require('fs');\nfs.writeFileSync('/tmp/who', 'ts');\nawait new Promise<void>((r) => setTimeout(r, 200));\nconst out: [string, string[]] = [fs.readFileSync('/tmp/who', 'utf8'), fs.readdirSync('/tmp')];\nreturn out;", json!(["ts", ["who"]])),
    ];
    let started = std::time::Instant::now();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs.iter().map(|(language, code, _)| s.spawn(move || run(language, code))).collect();
        handles.into_iter().map(|h| must(h.join(), "a run thread panicked")).collect()
    });
    for ((language, _, expected), r) in jobs.iter().zip(&reports) {
        assert_ok(r);
        assert_eq!(&r.result, expected, "{language}: {}", show(r));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut ids: Vec<&str> = reports.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[test]
fn the_jails_ids_map_to_unprivileged_host_ids() {
    require_jails!();
    let r = run("python", "result = [open('/proc/self/uid_map').read().split(), open('/proc/self/gid_map').read().split(), open('/proc/self/setgroups').read().strip()]");
    assert_eq!(r.status, jaild::report::Status::Ok, "{}", show(&r));
    // One slot of the supervisor's (jaild::hostids): its root id and its script id.
    let base = u64::from(supervisor().config.host_id_base);
    let slots = u64::from(supervisor().config.host_id_slots);
    let root: u64 = r.result[0][1].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!((base..base + slots).contains(&root), "root id {root} is not in the slots of base {base}: {}", show(&r));
    let expect = serde_json::json!(["0", root.to_string(), "1", "1000", (root + 1000).to_string(), "1"]);
    assert_eq!(r.result[0], expect, "{}", show(&r));
    assert_eq!(r.result[1], expect, "{}", show(&r));
    assert_eq!(r.result[2], "deny");
}

#[test]
fn concurrent_jails_never_share_host_ids() {
    require_jails!();
    // Runs that overlap in time (each holds for a while) must each have a slot of their own.
    let code = "import time\nm = open('/proc/self/uid_map').read().split()\ntime.sleep(0.5)\nresult = [m[1], m[4]]";
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| run("python", code))).collect();
        handles.into_iter().map(|h| must(h.join(), "a run thread panicked")).collect()
    });
    let mut roots = std::collections::BTreeSet::new();
    let mut scripts = std::collections::BTreeSet::new();
    for r in &reports {
        assert_ok(r);
        roots.insert(r.result[0].as_str().unwrap_or_default().to_string());
        scripts.insert(r.result[1].as_str().unwrap_or_default().to_string());
    }
    assert_eq!((roots.len(), scripts.len()), (6, 6), "overlapping jails shared host ids: {roots:?} {scripts:?}");
}

#[test]
fn host_id_slots_are_validated() {
    require_jails!();
    for (base, slots, needle) in
        [(200_000, 0, "0 slots"), (200_000, 1001, "1001 slots"), (u32::MAX - 1200, 300, "fit in 32 bits")]
    {
        let mut c = config();
        c.host_id_base = base;
        c.host_id_slots = slots;
        let err = jaild::Supervisor::new(c).err().map(|e| jaild::error_chain(&e)).unwrap_or_default();
        assert!(err.contains(needle), "base {base}, {slots} slots: {err}");
    }
}

#[test]
fn host_root_is_never_a_mapping_target() {
    require_jails!();
    let mut c = config();
    c.host_id_base = 0;
    let err = jaild::Supervisor::new(c).err().expect("host_id_base 0 is refused");
    assert!(err.to_string().contains("host_id_base 0"), "{err}");
}

#[test]
fn open_files_are_limited_by_the_profile() {
    require_jails!();
    let code = "import os\nfds = []\ntry:\n    while True:\n        fds.append(os.open('/dev/null', os.O_RDONLY))\nexcept OSError as e:\n    result = [len(fds), e.errno]\n";
    let r = run("python", code);
    assert_eq!(r.status, jaild::report::Status::Ok, "{}", show(&r));
    // RLIMIT_NOFILE = 64 (profiles/python.toml): stdio and the result fd stay open (the runner
    // closed the job fd), so exactly 60 more; then EMFILE (24).
    assert_eq!(r.result, serde_json::json!([60, 24]), "{}", show(&r));
}

#[test]
fn a_cancelled_run_is_killed_at_once_and_reported_cancelled() {
    require_jails!();
    use std::sync::atomic::{AtomicBool, Ordering};
    let cancel = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    let on_start = || started.store(true, Ordering::SeqCst);
    let t0 = std::time::Instant::now();
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            cancel.store(true, Ordering::SeqCst);
        });
        let hooks = jaild::RunHooks { cancel: Some(&cancel), started: Some(&on_start), output: None };
        supervisor().run_with(
            jaild::RunRequest {
                id: Some(unique_id("cancel")),
                language: Some(jaild::profile::Language::Python),
                interpreter: None,
                code: b"while True:\n    pass\n".to_vec(),
                ..Default::default()
            },
            &hooks,
        )
    });
    assert_no_leftovers(&report);
    assert!(started.load(Ordering::SeqCst));
    assert_eq!(report.status, jaild::report::Status::Cancelled, "{}", show(&report));
    assert!(t0.elapsed() < std::time::Duration::from_millis(1300), "cancel took {:?}", t0.elapsed());
}

#[test]
fn output_is_streamed_as_it_comes_within_the_caps() {
    require_jails!();
    use std::sync::Mutex;
    let chunks: Mutex<Vec<(jaild::Stream, Vec<u8>, std::time::Instant)>> = Mutex::new(Vec::new());
    let on_output =
        |s: jaild::Stream, b: &[u8]| chunks.lock().unwrap().push((s, b.to_vec(), std::time::Instant::now()));
    let hooks = jaild::RunHooks { output: Some(&on_output), ..Default::default() };
    let code = "import sys, time\nprint('first', flush=True)\nprint('err', file=sys.stderr, flush=True)\ntime.sleep(0.4)\nprint('second', flush=True)\nprint('x' * (2 << 20))\n";
    let report = supervisor().run_with(
        jaild::RunRequest {
            id: Some(unique_id("stream")),
            language: Some(jaild::profile::Language::Python),
            interpreter: None,
            code: code.as_bytes().to_vec(),
            ..Default::default()
        },
        &hooks,
    );
    assert_no_leftovers(&report);
    let finished = std::time::Instant::now();
    assert_eq!(report.status, jaild::report::Status::OutputLimit, "{}", show(&report));
    let chunks = chunks.into_inner().unwrap();
    let stdout: Vec<u8> = chunks.iter().filter(|c| c.0 == jaild::Stream::Stdout).flat_map(|c| c.1.clone()).collect();
    let stderr: Vec<u8> = chunks.iter().filter(|c| c.0 == jaild::Stream::Stderr).flat_map(|c| c.1.clone()).collect();
    // The stream carries exactly what the report keeps, no more than the cap.
    assert_eq!(stdout, report.stdout.as_bytes());
    assert_eq!(stderr, report.stderr.as_bytes());
    assert_eq!(stdout.len(), 1 << 20);
    // The first line arrived while the script was still sleeping.
    let first = chunks.iter().find(|c| c.1.starts_with(b"first")).expect("first line streamed");
    assert!(
        finished.duration_since(first.2) >= std::time::Duration::from_millis(300),
        "not streamed: {:?}",
        finished.duration_since(first.2)
    );
}

/// jail-init killed from outside in the middle of a run: the run ends at once as an internal
/// error that says so, nothing of it is left, and the next run works.
#[test]
fn killing_jail_init_from_outside_ends_the_run_as_an_internal_error() {
    require_jails!();
    let id = unique_id("killinit");
    let name = format!("run.{}.{id}", std::process::id());
    // The run's cgroup directory, wherever the hierarchy puts it (v1: one per controller).
    fn find(dir: &std::path::Path, name: &str, depth: u32) -> Option<std::path::PathBuf> {
        if depth == 0 {
            return None;
        }
        for e in std::fs::read_dir(dir).ok()?.flatten() {
            let p = e.path();
            if e.file_type().ok()?.is_dir() {
                if e.file_name().to_str() == Some(name) {
                    return Some(p);
                }
                if let Some(found) = find(&p, name, depth - 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    let killed = std::sync::atomic::AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let run = s.spawn(|| {
            supervisor().run(jaild::RunRequest {
                id: Some(id.clone()),
                language: Some(jaild::profile::Language::Python),
                interpreter: None,
                code: b"import time\ntime.sleep(20)\n".to_vec(),
                ..Default::default()
            })
        });
        // This run's script is the one process in the run's pids cgroup; its parent is this
        // run's jail-init (other tests' jails run alongside: only this one is touched).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline && !killed.load(std::sync::atomic::Ordering::SeqCst) {
            let procs = find(std::path::Path::new("/sys/fs/cgroup"), &name, 6).map(|d| d.join("cgroup.procs"));
            let script = procs
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<i32>().ok());
            let init = script.and_then(|p| {
                let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
                status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|v| v.trim().parse::<i32>().ok())
            });
            if let Some(init) = init.filter(|p| *p > 1) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), nix::sys::signal::Signal::SIGKILL).unwrap();
                killed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        run.join().unwrap()
    });
    assert_no_leftovers(&report);
    assert!(killed.into_inner(), "the run's jail-init was never found");
    assert_eq!(report.status, jaild::report::Status::InternalError, "{}", show(&report));
    assert!(report.message.as_deref().unwrap_or("").contains("jail-init"), "{}", show(&report));
    assert!(report.usage.wall_ms < 5000, "{}", show(&report));
    let next = run("python", "result = 1");
    assert_eq!(next.status, jaild::report::Status::Ok, "{}", show(&next));
}

// ------------------------------------------------------------------------------------------
// 17. older kernels: the rights newer than a profile's minimum Landlock ABI are covered by other
// layers (profiles/README.md, "Older kernels"). Runs planned as on a Landlock ABI 2 kernel
// (Debian 12's 6.1; tests/vm runs the same on that kernel for real).

fn abi2(language: &str, code: &str) -> Report {
    run_with(abi2_supervisor(), language, &dedent(code), None, LimitOverrides::default())
}

const COVERED_ON_ABI2: [&str; 6] =
    ["truncate", "net_bind_tcp", "net_connect_tcp", "ioctl_dev", "scope_abstract_unix_socket", "scope_signal"];

fn assert_abi2_enforcement(r: &Report) {
    let e = &r.enforcement;
    assert_eq!(e.landlock_abi, Some(2), "{}", show(r));
    for right in ["execute", "write_file", "read_file", "read_dir", "make_reg", "refer"] {
        assert!(e.landlock_rights.iter().any(|x| x == right), "{right} not handled: {}", show(r));
    }
    for right in ["truncate", "ioctl_dev"] {
        assert!(!e.landlock_rights.iter().any(|x| x == right), "{right} is not an ABI 2 right: {}", show(r));
    }
    assert!(e.landlock_net.is_empty() && e.landlock_scopes.is_empty(), "{}", show(r));
    let covered: Vec<&str> = e.landlock_covered.iter().map(|c| c.right.as_str()).collect();
    assert_eq!(covered, COVERED_ON_ABI2, "{}", show(r));
    for c in &e.landlock_covered {
        assert!(!c.by.is_empty(), "{c:?}");
    }
}

#[test]
fn on_landlock_abi_2_truncate_signal_and_abstract_sockets_stay_denied() {
    require_jails!();
    // A datagram socket bound to an abstract name in the host's (this test's) network
    // namespace: what scope_abstract_unix_socket guards on newer kernels.
    let name = format!("jaild-abi2-{}", std::process::id());
    let host = {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let s = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
        s.set_nonblocking(true).unwrap();
        s
    };
    let r = abi2(
        "python",
        &format!(
            r#"
            import os, signal, socket
            def attempt(f):
                try:
                    f()
                    return "ok"
                except OSError as e:
                    return __import__("errno").errorcode[e.errno]
            ro = os.open("/usr/lib/python3.11/os.py", os.O_RDONLY)
            open("/tmp/scratch", "w").write("x" * 100)
            d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            result = {{
                "truncate_readonly_path": attempt(lambda: os.truncate("/usr/lib/python3.11/os.py", 0)),
                "open_readonly_for_write": attempt(lambda: os.open("/usr/lib/python3.11/os.py", os.O_WRONLY | os.O_TRUNC)),
                "ftruncate_readonly_fd": attempt(lambda: os.ftruncate(ro, 0)),
                "truncate_scratch": attempt(lambda: os.truncate("/tmp/scratch", 10)),
                "scratch_size": os.stat("/tmp/scratch").st_size,
                "kill_pid1": attempt(lambda: os.kill(1, signal.SIGKILL)),
                "sendto_host_abstract": attempt(lambda: d.sendto(b"escaped", "\0{name}")),
            }}
            "#
        ),
    );
    assert_ok(&r);
    assert_abi2_enforcement(&r);
    let got = |k: &str| r.result[k].as_str().unwrap_or_default().to_string();
    // Files outside scratch are read-only binds owned by ids unmapped in the jail (EACCES, or
    // EROFS on kernels that check the mount first) and write_file (EACCES) keeps them from
    // being opened for writing: together they stand in for the truncate right.
    assert!(["EACCES", "EROFS"].contains(&got("truncate_readonly_path").as_str()), "{}", show(&r));
    assert!(["EACCES", "EROFS"].contains(&got("open_readonly_for_write").as_str()), "{}", show(&r));
    assert_eq!(got("ftruncate_readonly_fd"), "EINVAL", "{}", show(&r));
    assert_eq!((got("truncate_scratch"), r.result["scratch_size"].as_u64()), ("ok".into(), Some(10)), "{}", show(&r));
    // PID 1 is jail-init, another uid: the PID namespace and uids stand in for the signal scope.
    assert_eq!(got("kill_pid1"), "EPERM", "{}", show(&r));
    // The host's abstract name does not exist in the run's network namespace.
    assert!(["ECONNREFUSED", "ENOENT"].contains(&got("sendto_host_abstract").as_str()), "{}", show(&r));
    let mut buf = [0u8; 64];
    assert!(host.recv(&mut buf).is_err(), "a datagram from the jail reached the host's abstract socket");
}

#[test]
fn on_landlock_abi_2_device_ioctls_and_tcp_stay_denied_by_seccomp() {
    require_jails!();
    let r = abi2(
        "python",
        r#"
        import fcntl, os, socket
        def attempt(f):
            try:
                f()
                return "ok"
            except OSError as e:
                return __import__("errno").errorcode[e.errno]
        fd = os.open("/dev/null", os.O_RDWR)
        result = {
            "tiocsti": attempt(lambda: fcntl.ioctl(fd, 0x5412, b"x")),
            "tcp": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
        }
        "#,
    );
    assert_abi2_enforcement(&r);
    assert_eq!(r.result["tiocsti"], "EPERM", "{}", show(&r));
    assert_eq!(r.result["tcp"], "EPERM", "{}", show(&r));
    assert_denied(&r, "ioctl(0x5412 TIOCSTI)");
    assert_denied(&r, "socket(AF_INET)");
}

#[test]
fn on_landlock_abi_2_javascript_runs_with_the_same_cover() {
    require_jails!();
    let r = abi2(
        "javascript",
        r#"
        const fs = require("fs");
        const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.code; } };
        return {
            truncate: attempt(() => fs.truncateSync(process.execPath, 0)),
            kill: attempt(() => process.kill(1, "SIGKILL")),
        };
        "#,
    );
    assert_ok(&r);
    assert_abi2_enforcement(&r);
    // Node opens the file for writing first: write_file (Landlock ABI 1) refuses.
    assert_eq!(r.result["truncate"], "EACCES", "{}", show(&r));
    assert_eq!(r.result["kill"], "EPERM", "{}", show(&r));
}

/// A right newer than the kernel's ABI that no other layer of the profile covers refuses the
/// run, naming it; the same profile runs where the kernel has the right.
#[test]
fn an_uncovered_right_on_an_older_kernel_refuses_the_run() {
    require_jails!();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("profiles"), dir.path());
    // ioctl allowed for any request number: only Landlock's ioctl_dev (ABI 5) limits it to
    // non-device files.
    let policy = dir.path().join("seccomp/python.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    let kept: Vec<&str> = text.split("[[syscall]]").filter(|entry| !entry.contains("name = \"ioctl\"")).collect();
    std::fs::write(
        &policy,
        format!(
            "{}\n[[syscall]]\nname = \"ioctl\"\naction = \"allow\"\ncomment = \"any request\"\n",
            kept.join("[[syscall]]")
        ),
    )
    .unwrap();
    let mut c = config();
    c.profiles_dir = dir.path().to_path_buf();
    let wide = Supervisor::new(c.clone()).expect("supervisor starts");
    if wide.landlock_abi() >= 5 {
        let r = run_with(&wide, "python", "result = 1", None, LimitOverrides::default());
        assert_ok(&r);
        assert!(r.enforcement.landlock_rights.iter().any(|x| x == "ioctl_dev"), "{}", show(&r));
    }
    let mut old = Supervisor::new(c).expect("supervisor starts");
    old.limit_landlock_abi(4).unwrap();
    let r = run_with(&old, "python", "result = 1", None, LimitOverrides::default());
    assert_status(&r, Status::InternalError);
    let m = r.message.as_deref().unwrap_or_default();
    assert!(
        m.contains("Landlock ABI 4") && m.contains("ioctl_dev") && m.contains("without naming the request number"),
        "{}",
        show(&r)
    );
    assert!(
        r.stdout.is_empty() && r.exit_code.is_none() && r.enforcement.landlock_abi.is_none(),
        "nothing started: {}",
        show(&r)
    );

    // Below the profile's own minimum: refused, naming the missing rights.
    let mut older = Supervisor::new(config()).expect("supervisor starts");
    older.limit_landlock_abi(1).unwrap();
    let r = run_with(&older, "python", "result = 1", None, LimitOverrides::default());
    assert_status(&r, Status::InternalError);
    let m = r.message.as_deref().unwrap_or_default();
    assert!(m.contains("requires Landlock ABI 2") && m.contains("refer"), "{}", show(&r));
    // Raising the ABI above the kernel's is refused.
    assert!(older.limit_landlock_abi(99).is_err());
}

// ------------------------------------------------------------------------------------------
// warm and cold

/// Runs `code` in a jail made ahead of the request (Supervisor::warm_jail) that then waits
/// `idle` before its job.
fn warm(sup: &Supervisor, language: &str, code: &str, limits: LimitOverrides, idle: Duration) -> Report {
    let id = unique_id("warm");
    let req = RunRequest {
        id: Some(id.clone()),
        language: Language::parse(language),
        code: code.as_bytes().to_vec(),
        limits,
        ..Default::default()
    };
    let run = must(sup.validate(&req), "validate");
    let prepared = must(sup.prepare(&run.profile), "prepare");
    let jail = must(sup.warm_jail(&id, prepared), "a warm jail");
    std::thread::sleep(idle);
    let r = sup.run_warm(run, jail, &jaild::RunHooks::default());
    assert_no_leftovers(&r);
    r
}

fn cold(sup: &Supervisor, language: &str, code: &str, limits: LimitOverrides) -> Report {
    run_with(sup, language, code, None, limits)
}

#[test]
fn warm_and_cold_jails_report_alike() {
    require_jails!();
    if warm_mode() {
        return; // the cold half would be warm too; the cold run of the matrix has this test
    }
    let sup = kernel_only_supervisor();
    let tight = |f: fn(&mut LimitOverrides)| {
        let mut l = LimitOverrides::default();
        f(&mut l);
        l
    };
    let cases: Vec<(&str, &str, LimitOverrides)> = vec![
        ("python", "print('hi')\nresult = {'x': [1, 2]}", LimitOverrides::default()),
        ("python", "raise ValueError('no')", LimitOverrides::default()),
        ("python", "import ctypes\nctypes.CDLL(None).ptrace(0, 0, 0, 0)\nresult = 1", LimitOverrides::default()),
        ("python", "while True: pass", tight(|l| l.wall_time_ms = Some(300))),
        ("python", "while True: pass", tight(|l| l.cpu_time_ms = Some(200))),
        ("python", "x = bytearray(100 << 20)", tight(|l| l.memory = Some(ByteSize(32 * MIB)))),
        (
            "python",
            // Forking on past the refusals keeps the script alive until the supervisor stops
            // it: a script that died of its BlockingIOError first would race the stop.
            "import os, time\nfor _ in range(40):\n    try:\n        os.fork() == 0 and time.sleep(5)\n    except OSError:\n        pass\ntime.sleep(5)",
            tight(|l| l.pids = Some(4)),
        ),
        // Printing on past the cap: a script that had finished writing could exit before the
        // stop reached it (exit 0 or killed, output_limit either way), racing the comparison.
        ("python", "while True: print('x' * 1000)", tight(|l| l.stdout = Some(ByteSize(1000)))),
        ("javascript", "console.log('hi'); return [1, 2]", LimitOverrides::default()),
        ("javascript", "throw new TypeError('no')", LimitOverrides::default()),
        ("typescript", "const n: number = 2; return n * 21", LimitOverrides::default()),
    ];
    for (language, code, limits) in cases {
        let c = cold(sup, language, code, limits.clone());
        let w = warm(sup, language, code, limits, Duration::ZERO);
        assert_eq!((c.start, w.start), (jaild::report::Start::Cold, jaild::report::Start::Warm));
        let view = |r: &Report| {
            let v: Vec<(String, String, bool)> =
                r.violations.iter().filter(|v| !v.quiet).map(|v| (v.kind.clone(), v.detail.clone(), v.quiet)).collect();
            (
                r.status,
                r.result.clone(),
                r.stdout.clone(),
                r.exit_code,
                r.signal,
                r.error.as_ref().map(|e| e.kind.clone()),
                v,
            )
        };
        assert_eq!(view(&c), view(&w), "{language}: {code}\ncold: {}\nwarm: {}", show(&c), show(&w));
        assert_eq!(c.message, w.message, "{language}: {code}");
    }
}

#[test]
fn a_warm_jails_limits_start_at_its_job() {
    require_jails!();
    // Idle for longer than its wall time, the warm jail still gives the job all of it; the
    // usage is the job's, and says how long the jail took to make.
    let limits = LimitOverrides { wall_time_ms: Some(400), ..Default::default() };
    let r = warm(
        supervisor(),
        "python",
        "import time\ntime.sleep(0.2)\nresult = 1",
        limits.clone(),
        Duration::from_millis(600),
    );
    assert_ok(&r);
    assert!(r.usage.wall_ms >= 200 && r.usage.wall_ms < 400, "{}", show(&r));
    assert!(r.usage.startup_ms > 0, "{}", show(&r));
    assert!(
        r.usage.cpu_user_ms + r.usage.cpu_system_ms < 100,
        "the interpreter's start is not the job's CPU: {}",
        show(&r)
    );
    let r = warm(supervisor(), "python", "while True: pass", limits, Duration::from_millis(600));
    assert_eq!(r.status, Status::Timeout, "{}", show(&r));
    assert!(r.usage.wall_ms >= 400 && r.usage.wall_ms < 1000, "{}", show(&r));
    // A run of this mode (cold, unless the matrix runs warm) reports its start-up apart too.
    let c = run("python", "result = 1");
    let mode = if warm_mode() { jaild::report::Start::Warm } else { jaild::report::Start::Cold };
    assert!(c.usage.startup_ms > 0 && c.start == mode, "{}", show(&c));
}

#[test]
fn a_warm_jail_waits_at_the_least_cpu_weight_and_its_job_runs_at_the_default() {
    require_jails!();
    // A refill must not slow down a run being served: while a warm jail starts up and waits,
    // its cgroup has the least CPU weight; the handover gives its job the default weight.
    let sup = supervisor();
    let id = unique_id("weight");
    let req = RunRequest {
        id: Some(id.clone()),
        language: Language::parse("python"),
        code: b"result = 1".to_vec(),
        ..Default::default()
    };
    let run = must(sup.validate(&req), "validate");
    let prepared = must(sup.prepare(&run.profile), "prepare");
    let mut jail = must(sup.warm_jail(&id, prepared), "a warm jail");
    assert_eq!(jail.runs_in_background(), Some(true), "a waiting warm jail runs in the background");
    must(jail.start(&run, &jaild::RunHooks::default()), "the handover");
    assert_eq!(jail.runs_in_background(), Some(false), "a job runs at the default CPU weight");
}

#[test]
fn a_warm_jail_of_another_profile_version_runs_cold() {
    require_jails!();
    let sup = supervisor();
    let req = RunRequest {
        id: Some(unique_id("mismatch")),
        language: Language::parse("python"),
        code: b"result = 2".to_vec(),
        ..Default::default()
    };
    let mut run = must(sup.validate(&req), "validate");
    let prepared = must(sup.prepare(&run.profile), "prepare");
    let jail = must(sup.warm_jail(&unique_id("stale"), prepared), "a warm jail");
    run.profile.sha256 = "0".repeat(64);
    let r = sup.run_warm(run, jail, &jaild::RunHooks::default());
    assert_eq!(
        (r.status, r.start, r.result.clone()),
        (Status::Ok, jaild::report::Start::Cold, json!(2)),
        "{}",
        show(&r)
    );
    assert_no_leftovers(&r);
}

#[test]
fn a_script_finds_its_standard_descriptors_blocking() {
    require_jails!();
    // The runner may warm itself up before its job, but must leave fds 0-2 as an interpreter
    // started bare has them: Node's process.stderr, once made, sets O_NONBLOCK on fd 2, and a
    // script's own fs.writeSync(2, ...) would then fail with EAGAIN on a full pipe instead of
    // blocking until the supervisor stops it at its output limit.
    let js = "const fs = require('fs');\n\
              return [0, 1, 2].map((fd) => parseInt(/flags:\\s+(\\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8) & 0o4000);";
    let py = "import re\n\
              result = [int(re.search(r'flags:\\s+(\\d+)', open(f'/proc/self/fdinfo/{fd}').read()).group(1), 8) & 0o4000 for fd in (0, 1, 2)]";
    for (language, code) in [("python", py), ("javascript", js), ("typescript", js)] {
        let r = run(language, code);
        assert_ok(&r);
        assert_eq!(r.result, json!([0, 0, 0]), "{language}: O_NONBLOCK on a standard fd: {}", show(&r));
    }
}

#[test]
fn a_limit_that_ends_a_run_after_a_denial_is_its_status_and_the_denial_stays_listed() {
    require_jails!();
    // The status says what ended the run; a denial before it is kept in `violations` and named
    // in the message. A run that ends by itself after a denial stays a security violation.
    let deny = "import ctypes\nctypes.CDLL(None).ptrace(0, 0, 0, 0)\n";
    let cases: Vec<(String, LimitOverrides, Status, &str)> = vec![
        (
            format!("{deny}while True: pass"),
            LimitOverrides { wall_time_ms: Some(400), ..Default::default() },
            Status::Timeout,
            "wall time limit of 400 ms reached",
        ),
        (
            format!("{deny}while True: pass"),
            LimitOverrides { cpu_time_ms: Some(300), ..Default::default() },
            Status::CpuLimit,
            "CPU time limit of 300 ms reached",
        ),
        (
            format!("{deny}x = bytearray(200 << 20)"),
            LimitOverrides { memory: Some(ByteSize(32 * MIB)), ..Default::default() },
            Status::MemoryLimit,
            "memory limit of 32MiB reached",
        ),
        (format!("{deny}result = 1"), LimitOverrides::default(), Status::SecurityViolation, "denied: ptrace"),
    ];
    for (code, limits, status, message) in cases {
        let r = run_with(kernel_only_supervisor(), "python", &code, None, limits);
        assert_status(&r, status);
        assert!(syscall_violation(&r, "ptrace").is_some(), "the denial is not listed: {}", show(&r));
        let m = r.message.as_deref().unwrap_or_default();
        assert!(m.contains(message) && m.contains("ptrace"), "message {m:?}: {}", show(&r));
    }
}

#[test]
fn the_standard_librarys_file_copies_umask_and_process_group_work_and_setting_xattrs_stays_denied() {
    require_jails!();
    // shutil.copy2/copytree/move list extended attributes (answered ENOTSUP, quietly: the stdlib
    // skips them), tempfile and libraries set the umask, os.getpgrp names the jail's own group.
    let code = "import errno, os, shutil\n\
                open('/tmp/a', 'w').write('x')\n\
                old = os.umask(0o27)\n\
                shutil.copy2('/tmp/a', '/tmp/b')\n\
                shutil.copytree('/tmp', '/work/t')\n\
                shutil.move('/work/t/b', '/work/c')\n\
                try:\n    os.getxattr('/tmp/a', 'user.x')\n    got = 'ok'\nexcept OSError as e:\n    got = errno.errorcode[e.errno]\n\
                result = {'umask': [old, os.umask(0o22)], 'pgrp': os.getpgrp() == os.getpid(), 'copied': open('/work/c').read(),\n\
                          'tree': sorted(os.listdir('/work/t')), 'getxattr': got}";
    let r = run("python", code);
    assert_ok(&r);
    assert_eq!(
        r.result,
        json!({"umask": [0o22, 0o27], "pgrp": true, "copied": "x", "tree": ["a"], "getxattr": "ENOTSUP"}),
        "{}",
        show(&r)
    );
    let v = syscall_violation(&r, "listxattr").unwrap_or_else(|| panic!("listxattr not reported: {}", show(&r)));
    assert!(v.quiet && v.level == DenialLevel::Quiet, "{}", show(&r));
    // Setting one is refused as on a filesystem without them: listed (level report), and the
    // status is the script's own (it raised).
    let r = run("python", "import os\nopen('/tmp/a', 'w').write('x')\nos.setxattr('/tmp/a', 'user.x', b'1')");
    assert_status(&r, Status::RuntimeError);
    assert!(r.error.as_ref().is_some_and(|e| e.message.contains("Operation not supported")), "{}", show(&r));
    let v = syscall_violation(&r, "setxattr").unwrap_or_else(|| panic!("setxattr not listed: {}", show(&r)));
    assert!(!v.quiet && v.level == DenialLevel::Report, "{}", show(&r));
}

#[test]
fn ordinary_calls_on_the_scripts_own_processes_and_files_work_and_the_kernel_still_bounds_them() {
    require_jails!();
    // Each call is harmless inside the namespaces (the policy comment says why); what the
    // kernel refuses an unprivileged process (a higher priority, real-time scheduling, another
    // owner, a device node, a file past file_size) it still refuses.
    let code = r#"import errno, fcntl, locale, os, stat
def attempt(f):
    try:
        v = f()
        return 'ok' if v is None else v
    except OSError as e:
        return errno.errorcode[e.errno]
fd = os.open('/tmp/a', os.O_CREAT | os.O_RDWR)
r, w = os.pipe()
result = {
    'nice': attempt(lambda: os.nice(5)), 'nice_up': attempt(lambda: os.nice(-1)),
    'prio': attempt(lambda: os.getpriority(os.PRIO_PROCESS, 0)),
    'batch': attempt(lambda: os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))),
    'fifo': attempt(lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))),
    'affinity': attempt(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))),
    'chown_own': attempt(lambda: os.chown('/tmp/a', os.getuid(), os.getgid())),
    'chown_root': attempt(lambda: os.chown('/tmp/a', 0, 0)),
    'eventfd': attempt(lambda: os.eventfd(0) > 2),
    'fallocate': attempt(lambda: os.posix_fallocate(fd, 0, 1 << 20)),
    'fallocate_past_file_size': attempt(lambda: os.posix_fallocate(fd, 0, 64 << 20)),
    'fadvise': attempt(lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)),
    'pwritev': attempt(lambda: os.pwritev(fd, [b'ab', b'cd'], 0)),
    'preadv': attempt(lambda: (lambda b: (os.preadv(fd, [b], 0, 0), bytes(b))[1].decode())(bytearray(4))),
    'symlink': attempt(lambda: (os.symlink('/tmp/a', '/work/link'), os.readlink('/work/link'))[1]),
    'symlink_to_shadow': attempt(lambda: (os.symlink('/etc/shadow', '/tmp/s'), open('/tmp/s').read())),
    'symlink_to_pid1_root': attempt(lambda: (os.symlink('/proc/1/root/etc', '/tmp/r'), os.listdir('/tmp/r'))),
    'mkfifo': attempt(lambda: (os.mkfifo('/tmp/fifo'), stat.S_ISFIFO(os.stat('/tmp/fifo').st_mode))[1]),
    'fifo_outside_scratch': attempt(lambda: os.mkfifo('/etc/fifo')),
    'locale': attempt(lambda: locale.setlocale(locale.LC_ALL, '')),
    'python3': attempt(lambda: os.path.realpath('/usr/bin/python3')),
    'setresuid_own': attempt(lambda: os.setresuid(-1, -1, -1)),
    'setuid_own': attempt(lambda: os.setuid(os.getuid())),
    'seteuid_own': attempt(lambda: os.seteuid(os.geteuid())),
    'setresgid_own': attempt(lambda: os.setresgid(*os.getresgid())),
    'setuid_nobody': attempt(lambda: os.setuid(65534)),
    'ids_after': [os.getresuid(), os.getresgid()],
    'pipe_size': attempt(lambda: fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 18) and fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)),
    'pipe_size_past_max': attempt(lambda: fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 30)),
    'tcgetpgrp': attempt(lambda: os.tcgetpgrp(r)),
    'tcsetpgrp': attempt(lambda: os.tcsetpgrp(r, os.getpgrp())),
}"#;
    let r = run("python", code);
    assert_ok(&r);
    // /proc/1 is hidden from the script (hidepid) or refused: either way nothing is listed.
    let mut got = r.result.clone();
    let pid1 = got.as_object_mut().and_then(|o| o.remove("symlink_to_pid1_root")).unwrap_or_default();
    assert!(pid1 == "ENOENT" || pid1 == "EACCES", "/proc/1/root through a symlink: {}", show(&r));
    assert_eq!(
        got,
        json!({"nice": 5, "nice_up": "EPERM", "prio": 5, "batch": "ok", "fifo": "EPERM", "affinity": "ok",
               "chown_own": "ok", "chown_root": "EPERM", "eventfd": true, "fallocate": "ok",
               "fallocate_past_file_size": "EFBIG", "fadvise": "ok", "pwritev": 4, "preadv": "abcd",
               "symlink": "/tmp/a", "symlink_to_shadow": "ENOENT",
               "mkfifo": true, "fifo_outside_scratch": "EROFS", "locale": "C.UTF-8", "python3": "/usr/bin/python3.11",
               "setresuid_own": "ok", "setuid_own": "ok", "seteuid_own": "ok", "setresgid_own": "ok",
               "setuid_nobody": "EINVAL", "ids_after": [[1000, 1000, 1000], [1000, 1000, 1000]],
               "pipe_size": 262144, "pipe_size_past_max": "EPERM", "tcgetpgrp": "ENOTTY", "tcsetpgrp": "ENOTTY"}),
        "{}",
        show(&r)
    );
    // The kernel, not the filter, said no to each refusal above: nothing is reported.
    assert!(r.violations.is_empty(), "{}", show(&r));
    // uid or gid 0 (the jail's root, PID 1's id) is refused by the filter as well, whatever
    // the high bits of the register the kernel ignores, and is an attempt on the jail.
    for (code, denied) in [
        ("import os\nos.setuid(0)", "setuid"),
        ("import os\nos.setresgid(-1, 0, -1)", "setresgid"),
        ("import os\nos.setreuid(-1, 0)", "setreuid"),
        ("import os\nos.setregid(0, -1)", "setregid"),
        ("import os\nos.setgid(0)", "setgid"),
    ] {
        let r = run("python", code);
        assert_status(&r, Status::SecurityViolation);
        assert_denied(&r, denied);
    }
    let r = ko(
        "python",
        r#"
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        rv = libc.syscall(105, ctypes.c_long(1 << 32))  # setuid: the kernel reads uid 0
        result = [rv, ctypes.get_errno()]
        "#,
    );
    assert_denied(&r, "setuid");
    assert_eq!(r.result, json!([-1, 1]), "EPERM: {}", show(&r));
    // A device node is another matter: refused, and an attempt on the jail.
    let r = run("python", "import os, stat\nos.mknod('/tmp/null', stat.S_IFCHR | 0o666, os.makedev(1, 3))");
    assert_status(&r, Status::SecurityViolation);
    assert_denied(&r, "mknodat");
    // Node's own: priority, symlinks, chown to its own ids only.
    let r = run(
        "javascript",
        "const fs = require('fs'), os = require('os');\n\
         os.setPriority(10); fs.writeFileSync('/tmp/a', 'x'); fs.symlinkSync('/tmp/a', '/tmp/l');\n\
         fs.chownSync('/tmp/a', process.getuid(), process.getgid());\n\
         let root; try { fs.chownSync('/tmp/a', 0, 0); root = 'ok'; } catch (e) { root = e.code; }\n\
         return [os.getPriority(), fs.readFileSync('/tmp/l', 'utf8'), root];",
    );
    assert_ok(&r);
    assert_eq!(r.result, json!([10, "x", "EPERM"]), "{}", show(&r));
}

#[test]
fn multiprocessing_and_child_interpreters_work_where_a_profile_allows_processes() {
    require_jails!();
    // POSIX semaphores and shared memory live in /dev/shm: the one scratch tmpfs a profile may
    // put under /dev. With it (and the processes and module the shipped profile denies),
    // multiprocessing's Lock, Queue and Pool work.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("profiles"), dir.path());
    std::fs::write(
        dir.path().join("python-procs.toml"),
        "schema = 1\nname = \"python-procs\"\ndescription = \"x\"\nextends = \"python\"\n\
         [limits]\npids = 64\n[language_policy]\nblocked_modules = []\n\
         [[filesystem.tmpfs]]\npath = \"/dev/shm\"\nsize = \"4MiB\"\ninodes = 64\n\
         [[filesystem.tmpfs]]\npath = \"/tmp\"\nsize = \"16MiB\"\ninodes = 1024\n\
         [[filesystem.tmpfs]]\npath = \"/work\"\nsize = \"16MiB\"\ninodes = 1024\n",
    )
    .unwrap();
    let mut c = config();
    c.profiles_dir = dir.path().to_path_buf();
    let sup = Supervisor::new(c).expect("supervisor starts");
    let code = "import multiprocessing as mp, os\n\
                def square(x):\n    return x * x\n\
                ctx = mp.get_context('fork')\n\
                q = ctx.Queue()\nq.put('through a queue')\n\
                lock = ctx.Lock()\nwith lock:\n    pass\n\
                with ctx.Pool(2) as pool:\n    squares = pool.map(square, range(5))\n\
                import subprocess\n\
                child = 'import threading, time\\ndef spin():\\n    while True:\\n        time.sleep(0.001)\\nfor _ in range(4):\\n    threading.Thread(target=spin, daemon=True).start()\\ntime.sleep(0.02)\\nprint(\"exited\")'\n\
                runs = [subprocess.run(['python3', '-c', child], capture_output=True, text=True) for _ in range(3)]\n\
                result = {'queue': q.get(), 'pool': squares, 'shm': os.statvfs('/dev/shm').f_blocks * os.statvfs('/dev/shm').f_frsize,\n\
                          'children': [[c.returncode, c.stdout.strip(), c.stderr.strip()[-200:]] for c in runs]}";
    let r = run_in_mode(
        &sup,
        RunRequest {
            id: Some(unique_id("python")),
            profile: Some("python-procs".into()),
            language: Some(Language::Python),
            interpreter: None,
            filename: None,
            code: code.as_bytes().to_vec(),
            input: None,
            limits: LimitOverrides::default(),
        },
        &jaild::RunHooks::default(),
    );
    assert_no_leftovers(&r);
    assert_ok(&r);
    // A child interpreter started as `python3` (the manifest's alias) that exits while its
    // daemon threads run ends them through pthread_exit, which needs libgcc_s.
    let exited = json!([0, "exited", ""]);
    assert_eq!(
        r.result,
        json!({"queue": "through a queue", "pool": [0, 1, 4, 9, 16], "shm": 4 << 20, "children": [exited, exited, exited]}),
        "{}",
        show(&r)
    );
}

#[test]
fn a_denial_the_policy_only_reports_leaves_the_status_to_the_script_and_a_violation_still_counts() {
    require_jails!();
    // splice (Dirty Pipe's path) and memfd_create (fileless code) stay denied, with the errno of
    // a kernel without them, so callers fall back; the report lists them at level report.
    let code = r#"import errno, os
def attempt(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
r, w = os.pipe()
result = [attempt(lambda: os.splice(r, w, 1)), attempt(lambda: os.memfd_create('x'))]"#;
    let r = run("python", code);
    assert_status(&r, Status::Ok);
    assert_eq!(r.result, json!(["ENOSYS", "ENOSYS"]), "{}", show(&r));
    for name in ["splice", "memfd_create"] {
        let v = syscall_violation(&r, name).unwrap_or_else(|| panic!("{name} not listed: {}", show(&r)));
        assert!(v.level == DenialLevel::Report && !v.quiet, "{name}: {}", show(&r));
    }
    // Not handled: the script's own error is the status.
    let r = run("python", "import os\nos.memfd_create('x')");
    assert_status(&r, Status::RuntimeError);
    assert!(syscall_violation(&r, "memfd_create").is_some(), "{}", show(&r));
    // Beside a violation, the message names both, the violation first.
    let r = run(
        "python",
        "import os, stat\ntry:\n    os.memfd_create('x')\nexcept OSError:\n    pass\n\
         try:\n    os.mknod('/tmp/n', stat.S_IFCHR | 0o600, 0)\nexcept OSError:\n    pass",
    );
    assert_status(&r, Status::SecurityViolation);
    assert_eq!(
        r.message.as_deref(),
        Some("denied: mknodat; also denied, not violations: memfd_create"),
        "{}",
        show(&r)
    );
}

#[test]
fn the_jail_has_its_own_etc_naming_its_users_localhost_and_services_and_none_of_the_hosts() {
    require_jails!();
    // getpass, pwd, grp, tarfile-style uid lookups, gethostbyname("localhost"), getservbyname
    // and Node's os.userInfo() read /etc through the C library: the jail's own files answer them.
    let py = "import getpass, grp, os, pwd, _socket\n\
              result = {'user': getpass.getuser(), 'root': pwd.getpwuid(0).pw_name, 'home': os.path.expanduser('~'),\n\
                        'group': grp.getgrgid(os.getgid()).gr_name, 'localhost': _socket.gethostbyname('localhost'),\n\
                        'https': _socket.getservbyname('https', 'tcp'), 'tcp': _socket.getprotobyname('tcp'),\n\
                        'users': [l.split(':')[0] for l in open('/etc/passwd')]}";
    let r = run("python", py);
    assert_ok(&r);
    assert_eq!(
        r.result,
        json!({"user": "jail", "root": "root", "home": "/work", "group": "jail", "localhost": "127.0.0.1",
               "https": 443, "tcp": 6, "users": ["root", "jail", "nobody"]}),
        "{}",
        show(&r)
    );
    let r = run("javascript", "const os = require('os'); return [os.userInfo().username, os.userInfo().homedir];");
    assert_ok(&r);
    assert_eq!(r.result, json!(["jail", "/work"]), "{}", show(&r));
    // The files are the jail's: read-only, and nothing else of /etc is there.
    let r = run(
        "python",
        "import errno\ndef attempt(f):\n    try:\n        f()\n        return 'ok'\n    except OSError as e:\n        return errno.errorcode[e.errno]\n\
         result = [attempt(lambda: open('/etc/passwd', 'a')), attempt(lambda: open('/etc/shadow')), attempt(lambda: open('/etc/os-release'))]",
    );
    assert_ok(&r);
    let got: Vec<String> = serde_json::from_value(r.result.clone()).unwrap_or_default();
    assert!(got[0] == "EACCES" || got[0] == "EROFS", "appending to /etc/passwd: {}", show(&r));
    assert!(got[1] == "ENOENT" || got[1] == "EACCES", "/etc/shadow: {}", show(&r));
    assert!(got[2] == "ENOENT" || got[2] == "EACCES", "/etc/os-release: {}", show(&r));
}
