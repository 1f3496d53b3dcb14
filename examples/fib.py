# Fibonacci of input["n"], computed iteratively (Python ints grow as needed).
# Run by jaild's Python runner: `input` is the job's parsed input, and the
# value left in `result` is the job's result.
#   input:  {"n": 30}
#   result: {"n": 30, "fib": 832040}


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


n = int(input["n"]) if isinstance(input, dict) and "n" in input else 30
if n < 0:
    raise ValueError(f"n must be >= 0, got {n}")

value = fib(n)
digits = len(str(value))
print(f"fib({n}) has {digits} digit{'s' if digits != 1 else ''}")
result = {"n": n, "fib": value}
