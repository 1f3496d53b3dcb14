# attack: leave things for the next run to find: files in /tmp and /work (hidden, deep, unreadable),
# attack: a process that keeps running, a changed environment variable and working directory, and
# attack: 32 MiB of memory filled with a marker.
# expect: status=ok
# expect: result=left
# stopped_by: mount-namespace: result=left
# note: the next case, find_traces.py, runs right after this one in the same thread and looks for
# note: every one of these.
import os, time

MARK = b"jaild-between-runs-marker-7f3a"
os.makedirs("/work/.hidden/deep/er")
for path in ["/tmp/marker", "/work/marker", "/work/.hidden/deep/er/marker"]:
    with open(path, "wb") as f:
        f.write(MARK)
os.chmod("/work/.hidden", 0)
os.environ["JAILD_MARKER"] = MARK.decode()
memory = bytearray(MARK * ((32 << 20) // len(MARK)))
if os.fork() == 0:
    os.setsid()
    while True:
        time.sleep(1)
os.chdir("/tmp")
result = "left"
