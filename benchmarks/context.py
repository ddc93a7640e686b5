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

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()
