"""What every command shares: how it is declared, its exit codes, its usage errors, and how
it names a topic's sources.

A command is declared once, as a `Command` in its group's module: its name, its help, its
arguments and what runs. `main` builds the parser and the dispatch from those, so no
command is named twice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from feedsvc.config import Config, SourceConfig, TopicConfig


class Exit(IntEnum):
    """The exit codes of every command."""

    OK = 0
    FAILED = 1  # the command ran and something it did failed (a source, a copy, a page)
    USAGE = 2  # the config or the arguments name nothing runnable
    INTERRUPTED = 130  # Ctrl-C, after keeping what was done


class UsageError(Exception):
    """Arguments that name nothing runnable: printed as `feedsvc: ...`, exit 2."""


# What a command does with the config file: needs it; runs on defaults when there is none
# (discover, before any config is written); or never reads it (demo writes its own).
ConfigNeed = Literal["required", "optional", "none"]


@dataclass(frozen=True)
class Command:
    """One `feedsvc` command, declared once."""

    name: str
    help: str
    run: Callable[[Config, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    config: ConfigNeed = "required"


@dataclass(frozen=True)
class Group:
    """Commands shown together in `feedsvc --help`."""

    title: str
    commands: tuple[Command, ...]


def known_topic(config: Config, slug: str) -> TopicConfig:
    """The topic named `slug`, or a usage error that lists the known ones."""
    topic = config.topic(slug)
    if topic is None:
        known = ", ".join(t.slug for t in config.topics)
        raise UsageError(f"unknown topic {slug!r}; expected one of: {known}")
    return topic


def chosen_sources(config: Config, slug: str, number: int | None) -> list[SourceConfig]:
    """The topic's sources, or only its Nth (1 = the first)."""
    topic = known_topic(config, slug)
    if number is None:
        return list(topic.sources)
    if not 1 <= number <= len(topic.sources):
        raise UsageError(f"topic {slug!r} has sources 1 to {len(topic.sources)}, not {number}")
    return [topic.sources[number - 1]]


def add_source_choice(parser: argparse.ArgumentParser) -> None:
    """`--topic SLUG [--source N]`, the way every command names a topic's sources."""
    parser.add_argument("--topic", metavar="SLUG", required=True, help="the topic's slug")
    parser.add_argument(
        "--source", metavar="N", type=int, help="only the topic's Nth source (1 = the first)"
    )


def prepare_store(config: Config) -> None:
    """Create or upgrade the store and publish what was never rendered, before a command
    uses it; one line when the store's revision moved, nothing when it was current.

    The line goes to stderr: what a command prints on stdout (one line per source for
    ingest, rows per table for import-db) stays what scripts read."""
    from feedsvc.jobs.cycle import prepare

    moved = prepare(config)
    if moved:
        print(moved.line(), file=sys.stderr, flush=True)
