"""The `feedsvc` command: one parser built from the groups' declarations, one dispatch.

Logging is quiet by default: feedsvc's own lines (one per ingest, the scheduler's lead)
at INFO, every library (Alembic, APScheduler, gunicorn) at WARNING; `--verbose` shows all.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable, Sequence

from feedsvc import __version__
from feedsvc.cli import corrections, deploy, operate, repair, serving, site
from feedsvc.cli.common import Command, Exit, Group, UsageError
from feedsvc.cli.demo import DEMO
from feedsvc.config import ConfigError, load, resolve_path

GROUPS = (
    Group("serve and schedule", serving.COMMANDS),
    Group("add a site", site.COMMANDS),
    Group(
        "operate",
        operate.INGESTING + repair.COMMANDS + corrections.COMMANDS + operate.REPORTING,
    ),
    Group("deploy", deploy.COMMANDS),
    Group("demo", (DEMO,)),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, load the config and run one command; returns the exit code."""
    args = parser().parse_args(argv)
    command: Command = args.command
    _quiet_logging(args.verbose)
    try:
        if command.config == "none":
            return command.run(None, args)
        path = resolve_path(args.config)
        try:
            config = load(path)
        except ConfigError as exc:
            if command.config == "optional" and not path.exists():
                return command.run(None, args)
            print(f"feedsvc: config error: {exc}", file=sys.stderr)
            return Exit.USAGE
        return command.run(config, args)
    except UsageError as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return Exit.USAGE


def parser(width: int | None = None) -> argparse.ArgumentParser:
    """The whole command line; `feedsvc --help` lists the commands by group."""
    return command_parsers(width)[0]


def command_parsers(
    width: int | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top parser and each command's, by name; help wrapped at `width` columns
    (default: the terminal's), so docs/cli.md is the same on every machine."""
    top = argparse.ArgumentParser(
        prog="feedsvc",
        description="Feeds from topic listing pages.",
        epilog=_command_list(),
        formatter_class=_formatter(argparse.RawDescriptionHelpFormatter, width),
    )
    top.add_argument(
        "--config", metavar="PATH", help="config file (default: $FEEDSVC_CONFIG or ./config.toml)"
    )
    top.add_argument(
        "--verbose", "-v", action="store_true", help="log debug detail, libraries' too"
    )
    top.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    commands = top.add_subparsers(
        metavar="COMMAND", required=True, help="one of the commands below"
    )
    subs = {}
    for group in GROUPS:
        for command in group.commands:
            sub = commands.add_parser(
                command.name,
                description=command.help,
                formatter_class=_formatter(argparse.HelpFormatter, width),
            )
            if command.arguments:
                command.arguments(sub)
            sub.set_defaults(command=command)
            subs[command.name] = sub
    return top, subs


def _formatter(kind: type[argparse.HelpFormatter], width: int | None) -> Callable:
    return kind if width is None else functools.partial(kind, width=width)


def _command_list() -> str:
    """The commands by group, each with its one-line help."""
    width = max(len(c.name) for group in GROUPS for c in group.commands) + 2
    lines = []
    for group in GROUPS:
        lines.append(f"{group.title}:")
        lines += [f"  {c.name:<{width}}{c.help}" for c in group.commands]
    return "\n".join(lines)


def _quiet_logging(verbose: bool) -> None:
    """feedsvc's own lines at INFO, libraries' at WARNING; everything with --verbose."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("feedsvc").setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
