"""The benchmark (python -m bench). Kept light: a cold-start process imports this package."""

RESULT = "BENCH-RESULT"  # marks a bench process's result line among the service's own log lines
