"""`make bench`: measure the system on a scale database next to its own floors.

Not part of the runtime package (nothing under `config/` or the apps imports
it) and never part of `make test`. `python -m benchmarks --help` lists the
options; `benchmarks.sections` is the registry of sections, one module each.
"""
