"""docs/cli.md below its marker, written from the command's own parsers (`make docs`).

`python -m feedsvc.cli.reference docs/cli.md` rewrites it; `--check` only says whether it
is current (exit 1 when not), which a test runs so the reference never drifts from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from feedsvc.cli.main import GROUPS, command_parsers

MARKER = "<!-- generated below -->"
WIDTH = 92  # columns of the help text: fixed, so the file is the same wherever it is made


def reference() -> str:
    """Every command's help, by group, as Markdown."""
    top, subs = command_parsers(WIDTH)
    lines = ["## feedsvc", "", "```", top.format_help().rstrip(), "```"]
    for group in GROUPS:
        lines += ["", f"## {group.title.capitalize()}"]
        for command in group.commands:
            lines += ["", f"### feedsvc {command.name}", ""]
            lines += ["```", subs[command.name].format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def with_reference(document: str) -> str:
    """The document with everything below its marker replaced by the reference."""
    head, marker, _ = document.partition(MARKER)
    if not marker:
        raise ValueError(f"no {MARKER} line to write below")
    return f"{head}{MARKER}\n\n{reference()}"


def regenerate(argv: Sequence[str] | None, prog: str, made: Callable[[str], str]) -> int:
    """The command line of a generated doc: rewrite the file with `made(current)`, or with
    --check say whether it is current (exit 1 when not)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("path", type=Path, help="the Markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 if it is not current")
    args = parser.parse_args(argv)
    current = args.path.read_text(encoding="utf-8")
    wanted = made(current)
    if args.check:
        if current != wanted:
            print(f"{args.path} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(wanted, encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return regenerate(argv, "python -m feedsvc.cli.reference", with_reference)


if __name__ == "__main__":
    sys.exit(main())
