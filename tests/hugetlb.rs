//! Huge pages and the memory limit (issue 10, finding A).
//!
//! hugetlb pages come from a pool the host reserves (`/proc/sys/vm/nr_hugepages`) and are not
//! charged to the memory cgroup: a script that maps them takes host memory its memory limit
//! never sees. The test reserves a pool of 96 pages (192 MiB, more than the shipped 128 MiB
//! limit), runs a Python jail that tries every way into it the shipped policy could admit
//! (mmap(MAP_HUGETLB) through the mmap module and through ctypes, memfd_create(MFD_HUGETLB)),
//! and checks, on the kernel, that the pool stays whole while the script runs, that each attempt
//! is a named security violation, and that a host process can still take the whole pool.
//!
//! The pool is a host-wide setting: the test restores the old value when it ends, also when it
//! fails (a guard's Drop), and is the only test in this binary so nothing else runs meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::Status;
use jaild::{LimitOverrides, RunHooks, RunRequest, Stream};
use std::sync::Mutex;

const POOL_PAGES: u64 = 96;
const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

/// `HugePages_Total`/`HugePages_Free` of /proc/meminfo (default huge page size).
fn huge_pages(key: &str) -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.trim_start_matches(':').trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {key} in /proc/meminfo"))
}

/// A reserved pool of huge pages; the host's old setting comes back on drop.
struct Pool {
    old: String,
}

impl Pool {
    fn reserve(pages: u64) -> Pool {
        let old = std::fs::read_to_string(NR_HUGEPAGES).unwrap().trim().to_string();
        let pool = Pool { old };
        std::fs::write(NR_HUGEPAGES, pages.to_string()).unwrap();
        pool
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(NR_HUGEPAGES, &self.old) {
            eprintln!("could not restore {NR_HUGEPAGES} to {}: {e}", self.old);
        }
    }
}

/// Every way into the hugetlb pool the shipped python policy could admit, each tried and
/// touched (a mapping of huge pages is only charged to the pool once a page is faulted in).
const SCRIPT: &str = r#"
import ctypes, errno, mmap, os, time
HUGE = 2 << 20
N = input["pages"]
MAP_HUGETLB = 0x40000
out = {}
holding = []

def name(e):
    return errno.errorcode.get(e, str(e))

# 1. the mmap module (no ctypes needed)
try:
    m = mmap.mmap(-1, N * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_HUGETLB)
    for off in range(0, N * HUGE, HUGE):
        m[off] = 1
    holding.append(m)
    out["mmap_module"] = "mapped"
except OSError as e:
    out["mmap_module"] = name(e.errno)

# 2. raw mmap through ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
p = libc.mmap(None, N * HUGE, 3, 0x22 | MAP_HUGETLB, -1, 0)
if p is None or p == ctypes.c_void_p(-1).value:
    out["ctypes_mmap"] = name(ctypes.get_errno())
else:
    ctypes.memset(p, 1, N * HUGE)
    out["ctypes_mmap"] = "mapped"

# 3. a hugetlbfs memfd
try:
    fd = os.memfd_create("huge", os.MFD_HUGETLB)
    os.ftruncate(fd, N * HUGE)
    m2 = mmap.mmap(fd, N * HUGE)
    for off in range(0, N * HUGE, HUGE):
        m2[off] = 1
    holding.append(m2)
    out["memfd"] = "mapped"
except OSError as e:
    out["memfd"] = name(e.errno)

print("holding", flush=True)
time.sleep(1.0)
result = out
"#;

/// A host process maps and touches `pages` huge pages; true when it could.
fn host_takes_the_pool(pages: u64) -> bool {
    let code = format!(
        "import mmap\nm = mmap.mmap(-1, {pages} * (2 << 20), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40000)\n\
         for off in range(0, {pages} * (2 << 20), 2 << 20):\n    m[off] = 1\nprint('ok')\n"
    );
    let out = std::process::Command::new("/usr/bin/python3.11").args(["-c", &code]).output().unwrap();
    eprintln!("host allocation: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    out.status.success() && out.stdout == b"ok\n"
}

#[test]
fn huge_pages_cannot_bypass_the_memory_limit() {
    require_jails!();
    let pool = Pool::reserve(POOL_PAGES);
    let total = huge_pages("HugePages_Total");
    if total < POOL_PAGES {
        let msg = format!("the kernel reserved only {total} of {POOL_PAGES} huge pages (memory too fragmented)");
        drop(pool);
        assert!(!must_run(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    assert_eq!(huge_pages("HugePages_Free"), total, "the pool is in use before the run");

    // The pool while the script holds whatever it could map.
    let free_while_holding: Mutex<Option<u64>> = Mutex::new(None);
    let hook = |stream: Stream, bytes: &[u8]| {
        if stream == Stream::Stdout && String::from_utf8_lossy(bytes).contains("holding") {
            *free_while_holding.lock().unwrap() = Some(huge_pages("HugePages_Free"));
        }
    };
    let id = unique_id("hugetlb");
    let report = kernel_only_supervisor().run_with(
        RunRequest {
            id: Some(id.clone()),
            profile: None,
            language: jaild::profile::Language::parse("python"),
            interpreter: None,
            filename: None,
            code: SCRIPT.as_bytes().to_vec(),
            input: Some(format!("{{\"pages\": {POOL_PAGES}}}")),
            limits: LimitOverrides::default(),
        },
        &RunHooks { output: Some(&hook), ..Default::default() },
    );
    assert_eq!(report.id, id);
    assert_no_leftovers(&report);
    eprintln!("{}", show(&report));
    let free = free_while_holding.lock().unwrap().expect("the script reached the point where it holds its mappings");

    // The pool was never touched: not a single page left it while the script ran.
    assert_eq!(free, total, "the jail took {} huge pages from the pool: {}", total - free, show(&report));
    assert_eq!(
        report.result,
        serde_json::json!({"mmap_module": "EPERM", "ctypes_mmap": "EPERM", "memfd": "ENOSYS"}),
        "{}",
        show(&report)
    );
    assert_eq!(report.status, Status::SecurityViolation, "{}", show(&report));
    let loud = |detail: &str| {
        // At level violation: a huge page request is one whatever level its call's entry has.
        report
            .violations
            .iter()
            .find(|v| v.kind == "syscall" && v.detail == detail && v.level == jaild::seccomp::DenialLevel::Violation)
            .map(|v| v.count)
    };
    assert_eq!(loud("mmap(MAP_HUGETLB)"), Some(2), "both mmap attempts are named: {}", show(&report));
    assert_eq!(loud("memfd_create(MFD_HUGETLB)"), Some(1), "{}", show(&report));
    // The report says which layer kept the pool out of reach on this host.
    let enforcement = serde_json::to_value(&report.enforcement).unwrap();
    let hugetlb = enforcement["hugetlb"].as_str().unwrap_or_default();
    assert!(hugetlb.contains("seccomp"), "enforcement.hugetlb = {hugetlb:?}");

    // The pool is whole and still usable by the host.
    assert_eq!(huge_pages("HugePages_Free"), total);
    assert!(host_takes_the_pool(POOL_PAGES), "a host process could not allocate the whole pool after the run");
    drop(pool);
}
