"""The registry of sections: one module per section, each with
`run(bench: Bench) -> list[Result]`.

To add a section, write `benchmarks/sections/<name>.py` with its `run` and add
the name to SECTIONS (in the order BENCHMARKS.md lists them). `--sections`
(or `--only`) picks some of them; the default runs every one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from benchmarks.context import Bench
from benchmarks.report import Result

SECTIONS: tuple[str, ...] = (
    "plans",
    "api",
    "admin",
    "scheduler",
    "adapters",
    "metrics",
    "snapshot",
    "backup",
    "partitions",
    "load",
)


def section(name: str) -> Callable[[Bench], list[Result]]:
    """The `run` function of section `name` (imported only when it runs)."""
    if name not in SECTIONS:
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    run: Callable[[Bench], list[Result]] = module.run
    return run
