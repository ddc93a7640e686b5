"""The fault-injection suite (issue 11): `make chaos`, `python -m tests.chaos`.

harness.py runs one chaos run, services.py its throwaway PostgreSQL and Redis,
platforms.py the registry of platforms it can drive, report.py what it shows.
test_chaos.py is the short variant that `make test` runs.
"""
