# attack: flood the supervisor with output: write 1 KiB lines to stdout forever.
# limits: stdout=64KiB
# expect: status=output_limit
# expect: stdout_len=65536
# expect: stdout_truncated=true
# expect: wall_ms<3000
# stopped_by: output-cap: status=output_limit
# note: the supervisor keeps exactly the cap and stops the run; nothing past the cap is buffered.
import sys

line = "x" * 1023 + "\n"
while True:
    sys.stdout.write(line)
