"""The docs say what the code does: the generated parts are current, every command they
show is one the command line takes, and the commands that run offline are run here."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.cli.main import parser
from tests.support import walk

ROOT = Path(__file__).parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "deploy" / "README.md"])
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
README_LIMIT = 10 * 1024


def shown_commands() -> list[tuple[str, str]]:
    """(doc, command line) for each `feedsvc …` line the docs show to be typed: after a
    `$ ` prompt in any code block, or at the start of a line of a ```sh block."""
    found = []
    for doc in DOCS:
        for language, block in FENCE.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                typed = line.startswith("$ ") or language == "sh"
                command = line.removeprefix("$ ").split("  #")[0].rstrip(" \\")
                if typed and command.startswith("feedsvc "):
                    found.append((doc.name, command))
    return found


def test_the_readme_stays_short() -> None:
    assert (ROOT / "README.md").stat().st_size <= README_LIMIT


def test_docs_cli_md_is_what_the_parsers_say() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli.reference", "--check", "docs/cli.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_docs_show_commands() -> None:
    assert len(shown_commands()) >= 30  # the walk alone shows 32


@pytest.mark.parametrize(("doc", "command"), sorted(set(shown_commands())))
def test_every_command_shown_is_one_the_command_line_takes(doc: str, command: str) -> None:
    """Verbs and options as documented; placeholders (URL, PORT, SLUG) are taken as values."""
    words = shlex.split(command)[1:]
    try:
        parser(width=100).parse_args(words)
    except SystemExit as exc:
        pytest.fail(f"{doc}: `{command}` is not a valid command line (exit {exc.code})")


def test_the_discover_example_is_what_discover_prints() -> None:
    """docs/adding-a-site.md's first example, run on its page with --file."""
    doc = (ROOT / "docs" / "adding-a-site.md").read_text(encoding="utf-8")
    example = next(b for _, b in FENCE.findall(doc) if "--file drupal-teasers.html" in b)
    command, *shown = example.splitlines()
    fixtures = ROOT / "tests" / "fixtures" / "discover"
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", *shlex.split(command.removeprefix("$ feedsvc "))],
        cwd=fixtures,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    for line in shown:  # the example leaves lines out as "..."; the rest is printed as shown
        if line != "...":
            assert line in printed


def test_the_walk_on_every_markup_family_is_what_the_commands_print() -> None:
    """The last section of docs/adding-a-site.md, made again by running every command."""
    path = ROOT / "docs" / "adding-a-site.md"
    current = path.read_text(encoding="utf-8")
    assert walk.with_walk(current) == current, "run `make docs` and review the diff"


def test_the_readme_config_example_passes_check(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"^```toml\n(.*?)^```", readme, re.S | re.M))
    (tmp_path / "config.toml").write_text(example, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "OK: 1 topics, 1 sources" in result.stdout
