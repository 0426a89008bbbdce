"""The command line: `python -m derive values|check|variants|new|build|help ...`.

Every bad input ends a command with exit code 2 and one line on standard error; the example
files and output folders are checked before any work starts. A reader that stops early
(`python -m derive check | head -1`) ends the command quietly with exit code 141.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from .errors import DeriveError, show_path

_PACKAGE = Path(__file__).resolve().parent
DOCS = _PACKAGE / "docs" if (_PACKAGE / "docs").is_dir() else _PACKAGE.parent / "docs"
"""derive's reference pages: inside the installed package (a wheel maps the project's docs/
folder there), else beside the package (a checkout, an editable install)."""
TOPICS = {"example-file": "example-files.md"}
"""`derive help TOPIC`: the page of docs/ it prints."""

BROKEN_PIPE = 141
"""Exit code when standard output is closed early: 128 + SIGPIPE, what a shell reports for a
command that a closed pipe ends; distinct from `check`'s 1 (a failed gradient) and 2 (bad input)."""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run one command, and map derive's errors to exit code 2."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        code = _run(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # a closed pipe fails here, not as "Exception ignored" at exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE
    except DeriveError as err:
        print(err, file=sys.stderr)
        return 2
    except OSError as err:
        print(_os_message(err), file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    """The commands and their options, each with its help and default (argparse reports a
    malformed one with usage and exit code 2)."""
    program = _program()
    parser = _Parser(
        prog=program, description="Backpropagation derived by SymPy, evaluated by NumPy, "
        "rendered as worked examples (an MkDocs site, LaTeX documents, JSON answer keys).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help,
                                   formatter_class=_Defaults)

    values = command("values", "print every number of an example's training steps as JSON")
    values.add_argument("example", type=Path, help="an example file (TOML)")
    check = command("check", "compare each gradient with central finite differences "
                             "(exit code 1 when one disagrees)")
    check.add_argument("examples", type=Path, nargs="*",
                       help="example files (default: every examples/*.toml)")
    variants = command("variants", "write exam variants: the same network with fresh numbers, "
                                   "each with its answer key (.json) and document (.tex)")
    variants.add_argument("example", type=Path, help="the example file to vary")
    variants.add_argument("--count", type=int, default=3, help="how many variants (1 to 100)")
    variants.add_argument("--seed", type=int, default=0,
                          help="the random seed: the same seed gives the same files")
    variants.add_argument("--out", type=Path, default=Path("variants"),
                          help="the folder to write (replaced whole, only if derive made it)")
    variants.add_argument("--moodle", action="store_true",
                          help="also write OUT/NAME-moodle.xml: the variants as a Moodle question "
                               "bank (Moodle XML, one Cloze question per variant)")
    variants.add_argument("--ask", action="append", metavar="[STEP:]PATH",
                          help="with --moodle, a quantity each question asks, as in derive values "
                               "(gradients.W1, updated.W2, intermediates.delta2, loss, or a group "
                               "alone: gradients), in step 1 unless given; repeat for more "
                               "(default: gradients and updated)")
    new = command("new", "create a project: mkdocs.yml, docs/index.md and a first example")
    new.add_argument("directory", type=Path, help="the folder to create (new or empty)")
    build = command("build", "build the site of mkdocs.yml in this folder")
    build.add_argument("examples", type=Path, nargs="*",
                       help="example files (default: the plugin's examples, examples/*.toml)")
    build.add_argument("--site-dir", type=Path, default=Path("site"),
                       help="the folder to write (replaced whole, only if derive made it, or "
                            "mkdocs build made it as mkdocs.yml's own site_dir)")
    guide = command("help", "print a reference page: example-file (the example file's format, "
                            "every option, limit and message)")
    guide.add_argument("topic", nargs="?", choices=sorted(TOPICS), help="the page to print")
    return parser


def _program() -> str:
    """How the user ran derive: its console script or `python -m derive`."""
    return "derive" if Path(sys.argv[0]).name == "derive" else "python -m derive"


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Help that states an option's default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, []):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, with a malformed command reported in one line (exit code 2); `-h` shows usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} -h)\n")


def _version() -> str:
    from .store import version

    return version("derive")


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code."""
    if args.command in ("values", "check", "help") and sys.stdout is None:
        # Python sets sys.stdout to None when the command starts with it closed (`>&-`).
        raise DeriveError(f"standard output: closed; {args.command} prints its results there "
                          "(redirect it to a file or /dev/null instead)")
    if args.command == "values":
        return _values(args.example)
    if args.command == "check":
        return _check(args.examples)
    if args.command == "variants":
        return _variants(args.example, args.count, args.seed, args.out, args.moodle, args.ask)
    if args.command == "new":
        return _new(args.directory)
    if args.command == "help":
        return _help(args.topic)
    return _build(args.examples, args.site_dir)


def _values(path: Path) -> int:
    from .present.answer_key import answer_key, to_json
    from .worked import worked_example

    sys.stdout.write(to_json(answer_key(worked_example(path))))
    return 0


def _check(paths: list[Path]) -> int:
    """Print each example's gradient check; exit 1 when any exceeds its tolerance."""
    from .spec import load_example
    from .verify.gradcheck import format_table
    from .worked import worked_example

    paths = paths or _default_examples()
    if not paths:
        raise DeriveError("examples/*.toml: no example files here; name the files to check")
    examples = [load_example(path) for path in paths]
    passed = True
    for example in examples:
        worked = worked_example(example)
        print(format_table(worked.example, worked.checks))
        passed = passed and all(check.passed for check in worked.checks)
    return 0 if passed else 1


def _default_examples() -> list[Path]:
    """examples/*.toml without dot files (editor lock files), as the site's glob finds them."""
    return [path for path in sorted(Path("examples").glob("*.toml"))
            if not path.name.startswith(".")]


def _variants(path: Path, count: int, seed: int, out: Path, moodle: bool,
              ask: list[str] | None) -> int:
    from .moodle import DEFAULT_ASK, asked
    from .output import require_apart, require_replaceable
    from .variants import require_count, write_variants
    from .worked import worked_example

    require_count(count)
    if seed < 0:
        raise DeriveError(f"--seed: must be a whole number >= 0, not {seed}")
    if ask and not moodle:
        raise DeriveError("--ask: chooses what the Moodle questions ask; add --moodle")
    _require_folder("--out", out)
    require_replaceable(out, "--out")
    require_apart(out, "--out", [path])
    original = worked_example(path)
    quantities = asked(original, ask or DEFAULT_ASK) if moodle else ()
    def progress(number: int, count: int) -> None:
        if sys.stderr.isatty():
            end = "\n" if number == count else ""
            print(f"\rvariant {number} of {count}", end=end, file=sys.stderr, flush=True)

    for written in write_variants(original, count, seed, out, progress, quantities):
        print(f"wrote {show_path(written)} with its answer key (.json, .tex) and question sheet",
              file=sys.stderr)
    if moodle:
        bank = out / f"{original.example.name}-moodle.xml"
        print(f"wrote {show_path(bank)}: the variants as a Moodle question bank (import it with "
              "Question bank > Import > Moodle XML format)", file=sys.stderr)
    return 0


def _help(topic: str | None) -> int:
    """Print a reference page (Markdown, as docs/ holds it); without a topic, the usage."""
    if topic is None:
        _parser().print_help()
        return 0
    sys.stdout.write((DOCS / TOPICS[topic]).read_text(encoding="utf-8"))
    return 0


def _new(directory: Path) -> int:
    from .project import new_project

    for path in new_project(directory):
        print(f"wrote {show_path(path)}", file=sys.stderr)
    print(f"build it with: cd {show_path(directory)} && {_program()} build (or serve it live with "
          "mkdocs serve)", file=sys.stderr)
    return 0


def _build(examples: list[Path], site_dir: Path) -> int:
    from .site.build import build_site

    if not Path("mkdocs.yml").is_file():
        raise DeriveError("mkdocs.yml: not in this folder; run the build where it is, or start a "
                          f"project with: {_program()} new DIR")
    _require_folder("--site-dir", site_dir)
    built = build_site(examples or None, site_dir)
    if examples:
        # `mkdocs serve` shows mkdocs.yml's examples, not this selection.
        print(f"built {show_path(built)}; open {show_path(built / 'index.html')}",
              file=sys.stderr)
    else:
        print(f"built {show_path(built)}; serve it with: mkdocs serve", file=sys.stderr)
    return 0


def _require_folder(option: str, folder: Path) -> None:
    """Refuse an output folder that is a file, lies under a file, or cannot be written in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DeriveError(f"{option}: {show_path(existing)} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DeriveError(f"{option}: cannot write in {show_path(existing)}")


def _os_message(err: OSError) -> str:
    """One line for a failed file operation: `filename: reason`."""
    reason = err.strerror or str(err)
    return f"{show_path(err.filename)}: {reason}" if err.filename is not None else reason


def _discard_stdout() -> None:
    """Point standard output at the null device, so flushing it at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
