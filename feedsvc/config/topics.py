"""The `[[topics]]` of config.toml, their sources and the presets a source may name."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from slugify import slugify

from feedsvc.config.sources import ConfigError, SourceConfig, parse_source, type_slug
from feedsvc.config.table import Table


@dataclass(frozen=True)
class TopicConfig:
    """A topic: one feed family fed by one or more sources."""

    slug: str
    title: str
    description: str
    sources: tuple[SourceConfig, ...]
    author: str = "feedsvc"  # the feeds' author where an item has no byline; the service title


@dataclass(frozen=True)
class Preset:
    """A named set of source defaults from presets.toml."""

    name: str
    values: dict[str, Any]
    types: dict[str, str]


def load_presets() -> dict[str, Preset]:
    """The built-in presets shipped in feedsvc/presets.toml."""
    text = resources.files("feedsvc").joinpath("presets.toml").read_text(encoding="utf-8")
    return {
        name: Preset(name, {k: v for k, v in body.items() if k != "types"}, body.get("types", {}))
        for name, body in tomllib.loads(text).items()
    }


def parse_topic(table: Table, presets: dict[str, Preset], service_title: str) -> TopicConfig:
    slug = table.string("slug", required=True)
    if slug != slugify(slug):
        raise ConfigError(
            table.path, table.key("slug"), f'expected a lower-case slug such as "{slugify(slug)}"'
        )
    sources = table.array("sources")
    if not sources:
        raise ConfigError(
            table.path, table.key("sources"), "expected at least one [[topics.sources]]"
        )
    topic = TopicConfig(
        slug=slug,
        title=table.string("title", required=True),
        description=table.string("description", ""),
        sources=tuple(_source(s, presets) for s in sources),
        author=table.string("author", service_title),
    )
    table.only("slug", "title", "description", "author", "sources")
    return topic


def _source(table: Table, presets: dict[str, Preset]) -> SourceConfig:
    preset_name = table.string("preset", None)
    defaults: dict[str, Any] = {}
    if preset_name is not None:
        if preset_name not in presets:
            known = ", ".join(sorted(presets))
            raise ConfigError(
                table.path,
                table.key("preset"),
                f'unknown preset "{preset_name}"; expected one of: {known}',
            )
        defaults = presets[preset_name].values
    return parse_source(table.data, defaults, preset_name, table.path, table.prefix)


def parse_type_slug(table: Table, key: str) -> str:
    value = table.string(key, required=True) if key in table.data else key
    return type_slug(value, table.path, table.key(key))
