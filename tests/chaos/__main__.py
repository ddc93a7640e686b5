"""python -m tests.chaos [--short] [--posts N] [--workers N] ... (make chaos).

Exit status: 0 when every target is met, 1 when one is missed, 2 when the run
itself failed (nothing delivered, a planned fault that did not happen, a crash).
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from tests.chaos.harness import ROOT, Harness, Plan


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.chaos",
        description="Publish thousands of posts through real workers under kills, "
        "outages and a faulty platform; report what was sent twice or lost.",
    )
    p.add_argument(
        "--short",
        action="store_true",
        help="the short variant of make test (800 posts, 2 workers, ~2 minutes)",
    )
    p.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    p.add_argument(
        "--json",
        type=Path,
        help="where to write the JSON report (full runs: docs/chaos-latest.json)",
    )
    p.add_argument(
        "--benchmarks",
        type=Path,
        help="the BENCHMARKS.md whose Chaos section gets this run "
        "(full runs: BENCHMARKS.md; --short: none)",
    )
    p.add_argument("--no-benchmarks", action="store_true")
    defaults = Plan()
    for f in dataclasses.fields(Plan):
        value = getattr(defaults, f.name)
        if isinstance(value, bool | tuple):
            continue
        p.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(value),
            default=None,
            help=f"default {value!r} (--short: {getattr(Plan.short(), f.name)!r})",
        )
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Plan)
        if getattr(args, f.name, None) is not None
    }
    plan = Plan.short(**overrides) if args.short else Plan(**overrides)
    if not plan.label:
        plan.label = f"{'short' if args.short else 'full'} {plan.posts:,} posts"
    json_path = args.json or (None if args.short else ROOT / "docs/chaos-latest.json")
    markdown = None
    if not args.no_benchmarks:
        markdown = args.benchmarks or (None if args.short else ROOT / "BENCHMARKS.md")

    from tests.chaos import report as reporting

    try:
        run = Harness(plan, keep=args.keep).execute()
    except Exception as exc:  # noqa: BLE001 - reported as "the run itself failed"
        print(f"chaos: the run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    result = reporting.analyse(run)
    print(reporting.text(result), flush=True)
    if json_path:
        reporting.write_json(result, json_path)
        print(f"wrote {json_path}")
    if markdown:
        reporting.write_markdown(
            result,
            markdown,
            label=plan.label,
            json_name=json_path.name if json_path else "(not written)",
        )
        print(f"wrote the Chaos section of {markdown}")
    if not result["sane"]:
        return 2
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
