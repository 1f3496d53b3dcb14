# attack: crash or stall the supervisor's JSON parser: write a result 200,000 arrays deep straight
# attack: to the result descriptor, and exit 0.
# expect: status=runtime_error
# expect: error.type=ResultError
# expect: result=null
# expect: wall_ms<3000
# stopped_by: mount-namespace: wall_ms<3000
# note: serde_json refuses nesting deeper than 128 levels; the report says the result could not be
# note: read, and the supervisor carries on (the suite's other runs share its process).
import os

depth = 200_000
os.write(4, b'{"ok": true, "result": ' + b"[" * depth + b"]" * depth + b', "violations": []}')
os.close(4)
os._exit(0)
