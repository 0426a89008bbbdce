"""The command line: `python -m derive values|check|variants|build ...`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import DeriveError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run one command, and map derive's errors to exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m derive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    values = commands.add_parser("values", help="print an example's numbers as JSON")
    values.add_argument("example", type=Path)
    check = commands.add_parser("check", help="compare gradients with finite differences")
    check.add_argument("examples", type=Path, nargs="*")
    variants = commands.add_parser("variants", help="write exam variants with answer keys")
    variants.add_argument("example", type=Path)
    variants.add_argument("--count", type=int, default=3)
    variants.add_argument("--seed", type=int, default=0)
    variants.add_argument("--out", type=Path, default=Path("variants"))
    build = commands.add_parser("build", help="build the site (default: every examples/*.toml)")
    build.add_argument("examples", type=Path, nargs="*")
    build.add_argument("--site-dir", type=Path, default=Path("site"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "values":
            return _values(args.example)
        if args.command == "check":
            return _check(args.examples)
        if args.command == "variants":
            return _variants(args.example, args.count, args.seed, args.out)
        return _build(args.examples, args.site_dir)
    except DeriveError as err:
        print(err, file=sys.stderr)
        return 2


def _values(path: Path) -> int:
    from .present.answer_key import answer_key, to_json
    from .worked import worked_example

    sys.stdout.write(to_json(answer_key(worked_example(path))))
    return 0


def _check(paths: list[Path]) -> int:
    """Print each example's gradient check; exit 1 when any exceeds its tolerance."""
    from .verify.gradcheck import format_table
    from .worked import worked_example

    passed = True
    for path in paths or sorted(Path("examples").glob("*.toml")):
        worked = worked_example(path)
        print(format_table(worked.example, worked.checks))
        passed = passed and all(check.passed for check in worked.checks)
    return 0 if passed else 1


def _variants(path: Path, count: int, seed: int, out: Path) -> int:
    from .variants import write_variants
    from .worked import worked_example

    for written in write_variants(worked_example(path), count, seed, out):
        print(f"wrote {written} with its answer key (.json, .tex)", file=sys.stderr)
    return 0


def _build(examples: list[Path], site_dir: Path) -> int:
    from .site.build import build_site

    built = build_site(examples or None, site_dir)
    print(f"built {built}; serve it with: mkdocs serve", file=sys.stderr)
    return 0
