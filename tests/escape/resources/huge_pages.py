# attack: take memory the memory cgroup does not count: map huge pages from the host's hugetlb
# attack: pool (mmap MAP_HUGETLB through the mmap module, and a hugetlbfs memfd), which are
# attack: charged to the pool and to a hugetlb cgroup, never to memory.max.
# expect: status=security_violation
# expect: violation=mmap(MAP_HUGETLB)
# expect: violation=memfd_create(MFD_HUGETLB)
# expect: result.mmap=EPERM
# expect: result.memfd=ENOSYS
# stopped_by: seccomp: violation=mmap(MAP_HUGETLB)
# stopped_by: seccomp: violation=memfd_create(MFD_HUGETLB)
# note: the suite does not reserve a pool (a host-wide setting): without one the kernel would
# note: answer ENOMEM, so EPERM (ENOSYS for memfd_create, the policy's errno for all of its
# note: calls) and the named violations show the filter refused the call before the kernel
# note: looked. A huge page request is a violation whatever level the policy gives the call
# note: (memfd_create is listed at level report for its ordinary callers). tests/hugetlb.rs reserves a 192 MiB pool and checks that it stays
# note: whole. Where the host has a hugetlb controller the run's cgroup also has a limit of 0
# note: for every page size (report: enforcement.hugetlb). memfd_create is not allowed at all;
# note: the report names the flag that made this call dangerous.
import errno, mmap, os

HUGE = 2 << 20
out = {}
try:
    m = mmap.mmap(-1, 8 * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40000)  # MAP_HUGETLB
    m[0] = 1
    out["mmap"] = "mapped"
except OSError as e:
    out["mmap"] = errno.errorcode.get(e.errno, str(e.errno))
try:
    os.memfd_create("huge", os.MFD_HUGETLB)
    out["memfd"] = "created"
except OSError as e:
    out["memfd"] = errno.errorcode.get(e.errno, str(e.errno))
result = out
