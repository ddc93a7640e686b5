"""What every section gets: the options of the run and the rows it measures."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO


class BenchError(Exception):
    """A benchmark cannot run or went wrong; the message says why."""


@dataclass
class Bench:
    """One run of `make bench`: options and the ids picked from the scale data."""

    repeat: int = 30
    due_posts: int = 5000
    # the character with the most published posts (the busiest pages)
    character: str | None = None
    out: TextIO = field(default=sys.stdout)
    # the load section: concurrent clients per level, seconds per run, worker
    # processes of each stack, characters of the cold-cache run, and extra
    # environment for gunicorn (GUNICORN_THREADS=4, say)
    load_clients: tuple[int, ...] = (1, 8, 32)
    load_seconds: float = 10.0
    # unmeasured load on each endpoint and stack before its first level: every
    # worker and thread has served it once (lazy imports, first compiles)
    load_warmup: float = 2.0
    load_workers: int = 2
    load_cold_characters: int = 1000
    load_env: dict[str, str] = field(default_factory=dict)
    # only these endpoints (their keys in benchmarks/sections/load.py); empty: all
    load_endpoints: tuple[str, ...] = ()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()
