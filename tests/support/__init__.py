"""What the tests and the benchmarks share: fixture pages, free ports, config files, servers.

Both `tests/` and `bench/` import from here and never from each other's entry points
(`tests/conftest.py`, `bench/run.py`), so either can change without breaking the other.
"""
