"""The short variant of `make bench`'s load section: both stacks served on a
tiny database, wrk at 2 clients for a second per endpoint, no errors."""

import pytest
from django.core.management import call_command

from benchmarks.context import Bench
from benchmarks.load_report import DJANGO, REFERENCE, load_table
from benchmarks.runner import _busiest_character
from benchmarks.sections import section

# The admin pages are left out here: with DEBUG off they need collectstatic's
# manifest, half a minute on this machine; `make bench` loads them.
ENDPOINTS = (
    "detail-cached",
    "detail-uncached",
    "posts",
    "content",
    "series",
    "characters",
    "patch",
)
READS = set(ENDPOINTS) - {"patch"}


@pytest.mark.django_db(transaction=True)
def test_the_load_section_serves_both_stacks_without_errors(capsys):
    call_command(
        "seed_scale",
        characters=12,
        posts=600,
        scheduled=200,
        analytics=1200,
        logs=10,
        engagement=10,
        verbosity=0,
    )
    bench = Bench(
        load_clients=(2,),
        load_seconds=1,
        load_warmup=0.3,
        load_workers=1,
        load_endpoints=ENDPOINTS,
        character=_busiest_character(),
    )
    results = section("load")(bench)

    runs = [r for r in results if r.extra.get("kind") in ("api", "write")]
    served = {(r.extra["endpoint"], r.extra["stack"]) for r in runs}
    assert served == {(e, DJANGO) for e in ENDPOINTS} | {(e, REFERENCE) for e in READS}
    for r in runs:
        assert r.extra["requests"] > 0, r.what
        assert r.extra["errors"] == 0, (r.what, r.extra["error_detail"])
        # PostgreSQL's own work beside each run was sampled
        assert r.extra["background"]["samples"] >= 1, r.what
    memory = {r.extra["stack"]: r for r in results if r.extra.get("kind") == "memory"}
    assert memory[DJANGO].extra["peak_mb"] > 10
    assert memory[REFERENCE].extra["peak_mb"] > 10

    table = "\n".join(load_table(results))
    assert "| Django rps |" in table and "| FastAPI rps |" in table
    assert "character detail, cached (Redis) | 2 |" in table
    assert "Conditions: " in table
    assert "What ran beside the measured runs" in table
    assert "after 0.3 s of unmeasured load per endpoint and stack" in table
    assert "errors" not in " ".join(r.note for r in runs)
