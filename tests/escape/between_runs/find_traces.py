# attack: find what the previous run (leave_traces.py) left: its files, its process, its
# attack: environment, its working directory, and its memory's marker in fresh memory.
# after: leave_traces.py
# expect: status=ok
# expect: result.tmp=[]
# expect: result.work=[]
# expect: result.visible_pids=[2]
# expect: result.cwd=/work
# expect: result.env_marker=false
# expect: result.marker_in_fresh_memory=false
# stopped_by: mount-namespace: result.work=[]
# stopped_by: pid-namespace: result.visible_pids=[2]
# note: every run gets new namespaces, a new tmpfs root and scratch, a new cgroup, and new
# note: processes whose memory comes zeroed from the kernel.
import mmap, os

MARK = b"jaild-between-runs-marker-7f3a"
fresh = mmap.mmap(-1, 64 << 20)
result = {
    "tmp": os.listdir("/tmp"),
    "work": os.listdir("/work"),
    "visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "cwd": os.getcwd(),
    "env_marker": "JAILD_MARKER" in os.environ,
    "marker_in_fresh_memory": fresh.find(MARK) != -1,
}
