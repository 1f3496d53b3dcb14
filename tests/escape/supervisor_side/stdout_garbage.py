# attack: feed the supervisor's output capture bytes that are not text: invalid UTF-8, NUL bytes,
# attack: terminal escape sequences and a lone surrogate's encoding, on stdout and stderr.
# expect: status=ok
# expect: result=done
# expect: stdout~"\ufffd"
# expect: stderr~"\u001b]0;pwned\u0007"
# expect: wall_ms<3000
# stopped_by: mount-namespace: wall_ms<3000
# note: the report keeps the bytes as text with invalid sequences replaced (U+FFFD).
import os

os.write(1, bytes(range(256)) * 64 + b"\xed\xa0\x80\x00\n")
os.write(2, b"\x1b]0;pwned\x07\x1b[2J\x00\xff\n")
result = "done"
