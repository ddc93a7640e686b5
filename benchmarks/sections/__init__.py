"""The registry of sections: one module per section, each with
`run(bench: Bench) -> list[Result]`.

To add a section, write `benchmarks/sections/<name>.py` with its `run` and add
the name to SECTIONS (the order they run in and BENCHMARKS.md lists them). `--sections`
(or `--only`) picks some of them; the default runs every one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from benchmarks.context import Bench
from benchmarks.report import Result

# The load section runs right after the read-only sections: after the
# scheduler, metrics, backup and partitions sections (gigabytes of WAL: a
# month of logs deleted and put back, a restore) the checkpoint they ask for
# spreads its writes over the next minutes (checkpoint_completion_target), and
# the load section measured them too (2026-12-01 12:49: the posts page at 8
# clients 239 requests/s in the full run, 288 in a load run minutes later).
SECTIONS: tuple[str, ...] = (
    "plans",
    "api",
    "admin",
    "load",
    "scheduler",
    "adapters",
    "metrics",
    "snapshot",
    "backup",
    "partitions",
)


def section(name: str) -> Callable[[Bench], list[Result]]:
    """The `run` function of section `name` (imported only when it runs)."""
    if name not in SECTIONS:
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    run: Callable[[Bench], list[Result]] = module.run
    return run
