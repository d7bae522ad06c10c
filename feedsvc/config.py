"""Load config.toml into typed, validated objects; every error names the file and the key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slugify import slugify
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_PATH = "config.toml"
ENV_VAR = "FEEDSVC_CONFIG"
SELECTOR_KEYS = ("item", "title", "link", "type", "date", "summary", "image", "author")
REQUIRED_SELECTORS = ("item", "title", "link")
INGEST_KEYS = (
    "interval_minutes",
    "timeout_seconds",
    "max_bytes",
    "attempts",
    "backoff_seconds",
    "max_wait_seconds",
    "host_delay_seconds",
    "max_redirects",
    "min_items_ratio",
    "max_incomplete_ratio",
    "failing_after_minutes",
)
UTC_ZONE = ZoneInfo("UTC")


class ConfigError(Exception):
    """An unusable config file; the message names the file, the key and what was expected."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")


@dataclass(frozen=True)
class Selectors:
    """CSS selectors that find items in a listing page and the fields inside each item."""

    item: str
    title: str
    link: str
    type: str | None = None
    date: str | None = None
    summary: str | None = None
    image: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class TypeRule:
    """An item without a type label whose link path starts with `path_prefix` gets `type`."""

    path_prefix: str
    type: str


@dataclass(frozen=True)
class SourceConfig:
    """One listing page of a topic and how to read it."""

    url: str
    selectors: Selectors
    preset: str | None = None
    type_rules: tuple[TypeRule, ...] = ()
    timezone: ZoneInfo = UTC_ZONE
    pages: int = 1
    page_param: str = "page"
    robots: bool = True


@dataclass(frozen=True)
class TopicConfig:
    """A topic: one feed family fed by one or more sources."""

    slug: str
    title: str
    description: str
    sources: tuple[SourceConfig, ...]


@dataclass(frozen=True)
class ServiceConfig:
    """Where the store lives and how the web service presents itself."""

    database: str
    base_url: str
    title: str = "feedsvc"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    # Connections each process keeps to the store (PostgreSQL): a small pool per worker.
    pool_size: int = 5
    pool_max_overflow: int = 5
    pool_recycle_seconds: int = 1800
    pool_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class IngestConfig:
    """How often and how carefully sources are fetched."""

    interval_minutes: int = 60
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    attempts: int = 3
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 120.0
    host_delay_seconds: float = 2.0
    max_redirects: int = 5
    min_items_ratio: float = 0.6
    max_incomplete_ratio: float = 0.2
    failing_after_minutes: int = 360


@dataclass(frozen=True)
class FeedsConfig:
    """How many entries a feed holds by default and at most."""

    default_limit: int = 50
    max_limit: int = 500
    archive_page_size: int = 50


@dataclass(frozen=True)
class WebSubConfig:
    """The WebSub hub that feeds announce and that is pinged when they change; None: no push."""

    hub: str | None = None


@dataclass(frozen=True)
class PublishConfig:
    """Where every rendered feed is also written as a file, for nginx or any static host."""

    directory: Path = Path("var/public")


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path
    service: ServiceConfig
    ingest: IngestConfig = field(default_factory=IngestConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    topics: tuple[TopicConfig, ...] = ()
    types: dict[str, str] = field(default_factory=dict)

    def topic(self, slug: str) -> TopicConfig | None:
        """The topic with this slug, or None."""
        return next((t for t in self.topics if t.slug == slug), None)


def resolve_path(cli_path: str | None = None) -> Path:
    """The config file to use: --config, else $FEEDSVC_CONFIG, else ./config.toml."""
    return Path(cli_path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load(path: Path | str) -> Config:
    """Read and validate a config file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    return parse(raw, path)


def parse(raw: dict[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document that came from `path`."""
    root = _Table(raw, path, "")
    root.only("service", "ingest", "feeds", "websub", "publish", "topics", "types")
    presets = load_presets()
    service = _service(root.table("service", required=True), path)
    ingest_t = root.table("ingest")
    ingest = IngestConfig(
        interval_minutes=ingest_t.integer("interval_minutes", 60, minimum=1),
        timeout_seconds=ingest_t.number("timeout_seconds", 20.0, minimum=0.1),
        max_bytes=ingest_t.integer("max_bytes", 5_000_000, minimum=1024),
        attempts=ingest_t.integer("attempts", 3, minimum=1, maximum=10),
        backoff_seconds=ingest_t.number("backoff_seconds", 2.0, minimum=0),
        max_wait_seconds=ingest_t.number("max_wait_seconds", 120.0, minimum=0),
        host_delay_seconds=ingest_t.number("host_delay_seconds", 2.0, minimum=0),
        max_redirects=ingest_t.integer("max_redirects", 5, minimum=0, maximum=30),
        min_items_ratio=ingest_t.number("min_items_ratio", 0.6, minimum=0, maximum=1),
        max_incomplete_ratio=ingest_t.number("max_incomplete_ratio", 0.2, minimum=0, maximum=1),
        failing_after_minutes=ingest_t.integer("failing_after_minutes", 360, minimum=1),
    )
    ingest_t.only(*INGEST_KEYS)
    feeds_t = root.table("feeds")
    max_limit = feeds_t.integer("max_limit", 500, minimum=1)
    default_limit = feeds_t.integer("default_limit", 50, minimum=1, maximum=max_limit)
    feeds = FeedsConfig(
        default_limit=default_limit,
        max_limit=max_limit,
        archive_page_size=feeds_t.integer(
            "archive_page_size", default_limit, minimum=1, maximum=max_limit
        ),
    )
    feeds_t.only("default_limit", "max_limit", "archive_page_size")
    websub_t = root.table("websub")
    websub = WebSubConfig(hub=websub_t.http_url("hub") if "hub" in websub_t.data else None)
    websub_t.only("hub")
    publish_t = root.table("publish")
    directory = publish_t.string("directory", "var/public")
    publish = PublishConfig(directory=(path.parent / directory).resolve())
    publish_t.only("directory")
    topic_tables = root.array("topics")
    topics = tuple(_topic(t, presets) for t in topic_tables)
    slugs = [t.slug for t in topics]
    for index, slug in enumerate(slugs):
        if slug in slugs[:index]:
            raise ConfigError(path, f"topics[{index}].slug", f'duplicate topic slug "{slug}"')
    types = {slug: label for preset in presets.values() for slug, label in preset.types.items()}
    types_t = root.table("types")
    for key in types_t.data:
        types[_type_slug(types_t, key)] = types_t.string(key)
    return Config(
        path=path,
        service=service,
        ingest=ingest,
        feeds=feeds,
        websub=websub,
        publish=publish,
        topics=topics,
        types=types,
    )


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


def _service(table: _Table, path: Path) -> ServiceConfig:
    database = table.string("database", required=True)
    try:
        url = make_url(database)
    except ArgumentError:
        raise ConfigError(
            path, table.key("database"), "expected a SQLAlchemy database URL"
        ) from None
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        db_path = Path(url.database)
        if not db_path.is_absolute():
            database = url.set(database=str((path.parent / db_path).resolve())).render_as_string(
                hide_password=False
            )
    service = ServiceConfig(
        database=database,
        base_url=table.http_url("base_url", required=True).rstrip("/"),
        title=table.string("title", "feedsvc"),
        host=table.string("host", "127.0.0.1"),
        port=table.integer("port", 8000, minimum=1, maximum=65535),
        workers=table.integer("workers", 2, minimum=1, maximum=64),
        pool_size=table.integer("pool_size", 5, minimum=1, maximum=100),
        pool_max_overflow=table.integer("pool_max_overflow", 5, minimum=0, maximum=100),
        pool_recycle_seconds=table.integer("pool_recycle_seconds", 1800, minimum=60),
        pool_timeout_seconds=table.number("pool_timeout_seconds", 10.0, minimum=0.1),
    )
    table.only(
        "database",
        "base_url",
        "title",
        "host",
        "port",
        "workers",
        "pool_size",
        "pool_max_overflow",
        "pool_recycle_seconds",
        "pool_timeout_seconds",
    )
    return service


def _topic(table: _Table, presets: dict[str, Preset]) -> TopicConfig:
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
    )
    table.only("slug", "title", "description", "sources")
    return topic


def _source(table: _Table, presets: dict[str, Preset]) -> SourceConfig:
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
    merged = _Table({**defaults, **table.data}, table.path, table.prefix)
    selector_values = {**defaults.get("selectors", {}), **table.table("selectors").data}
    selectors_t = _Table(selector_values, table.path, table.key("selectors"))
    selectors_t.only(*SELECTOR_KEYS)
    for key in REQUIRED_SELECTORS:
        if key not in selector_values:
            raise ConfigError(
                table.path,
                selectors_t.key(key),
                'missing; expected a CSS selector (or a preset such as "rand-topic")',
            )
    selectors = Selectors(**{key: selectors_t.selector(key) for key in selector_values})
    rules = tuple(
        TypeRule(path_prefix=r.string("path_prefix", required=True), type=_type_slug(r, "type"))
        for r in merged.array("type_rules")
    )
    tz_name = merged.string("timezone", "UTC")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            table.path,
            table.key("timezone"),
            f'unknown time zone "{tz_name}"; expected an IANA name',
        ) from None
    source = SourceConfig(
        url=merged.http_url("url", required=True),
        selectors=selectors,
        preset=preset_name,
        type_rules=rules,
        timezone=timezone,
        pages=merged.integer("pages", 1, minimum=1, maximum=50),
        page_param=merged.string("page_param", "page"),
        robots=merged.boolean("robots", True),
    )
    merged.only(
        "url", "preset", "selectors", "type_rules", "timezone", "pages", "page_param", "robots"
    )
    return source


def _type_slug(table: _Table, key: str) -> str:
    value = table.string(key, required=True) if key in table.data else key
    if value != slugify(value):
        raise ConfigError(
            table.path, table.key(key), f'expected a type slug such as "{slugify(value)}"'
        )
    return value


_REQUIRED: Any = object()


class _Table:
    """A TOML table being validated, which knows its own key path for error messages."""

    def __init__(self, data: Any, path: Path, prefix: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, prefix, "expected a table")
        self.data: dict[str, Any] = data
        self.path = path
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def only(self, *allowed: str) -> None:
        """Reject keys this table does not know, so a typo never goes unnoticed."""
        for name in self.data:
            if name not in allowed:
                raise ConfigError(
                    self.path, self.key(name), f"unknown key; expected one of: {', '.join(allowed)}"
                )

    def _get(self, name: str, kinds: tuple[type, ...], what: str, default: Any) -> Any:
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(self.path, self.key(name), f"missing; expected {what}")
            return default
        value = self.data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ConfigError(
                self.path, self.key(name), f"expected {what}, got {type(value).__name__} {value!r}"
            )
        return value

    def string(self, name: str, default: Any = _REQUIRED, *, required: bool = False) -> Any:
        value = self._get(name, (str,), "a string", _REQUIRED if required else default)
        if name in self.data and not value.strip():
            raise ConfigError(self.path, self.key(name), "expected a non-empty string")
        return value

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._get(name, (int,), "an integer", default)
        self._check_range(name, value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = float(self._get(name, (int, float), "a number", default))
        self._check_range(name, value, minimum, maximum)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        return self._get(name, (bool,), "true or false", default)

    def _check_range(
        self, name: str, value: float, minimum: float | None, maximum: float | None
    ) -> None:
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise ConfigError(self.path, self.key(name), f"expected a number {bounds}, got {value}")

    def http_url(self, name: str, *, required: bool = False) -> str:
        value = self.string(name, required=required)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                self.path, self.key(name), f"expected an http:// or https:// URL, got {value!r}"
            )
        return value

    def selector(self, name: str) -> str:
        """A CSS selector that lxml's cssselect can compile."""
        from cssselect import GenericTranslator, SelectorError

        value = self.string(name, required=True)
        try:
            GenericTranslator().css_to_xpath(value)
        except SelectorError as exc:
            raise ConfigError(
                self.path, self.key(name), f"invalid CSS selector {value!r} ({exc})"
            ) from None
        return value

    def table(self, name: str, *, required: bool = False) -> _Table:
        value = self._get(name, (dict,), "a table", _REQUIRED if required else {})
        return _Table(value, self.path, self.key(name))

    def array(self, name: str) -> list[_Table]:
        value = self._get(name, (list,), "an array of tables", [])
        return [_Table(item, self.path, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]
