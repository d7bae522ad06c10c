"""Load config.toml into typed, validated objects; every error names the file and the key."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.config.custom_feeds import CustomFeed, parse_custom_feeds
from feedsvc.config.sources import (
    SELECTOR_KEYS,
    ConfigError,
    Selector,
    Selectors,
    SourceConfig,
    TypeRule,
    from_environment,
)
from feedsvc.config.table import Table
from feedsvc.config.topics import TopicConfig, load_presets, parse_topic, parse_type_slug

__all__ = ["SELECTOR_KEYS", "ConfigError", "Selector", "Selectors", "SourceConfig", "TypeRule"]

# dialect[+driver]://..., the form of every SQLAlchemy database URL (checked here without
# SQLAlchemy, which only the store imports).
DATABASE_URL = re.compile(r"^(?P<dialect>[A-Za-z][A-Za-z0-9]*)(?:\+\w+)?://(?P<rest>.*)$")
DEFAULT_PATH = "config.toml"
ENV_VAR = "FEEDSVC_CONFIG"
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
    "image_probes_per_run",
    "browser_timeout_seconds",
    "browser_concurrency",
    "proxy",
    "concurrency",
    "queue_lease_seconds",
    "queue_poll_seconds",
    "repair_min_known",
    "auto_repair",
)
AUTO_REPAIR = ("off", "propose", "apply")
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


@dataclass(frozen=True)
class ServiceConfig:
    """Where the store lives and how the web service presents itself."""

    database: str
    base_url: str
    title: str = "feedsvc"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    access_log: str | None = None  # gunicorn's: "-" standard output, a path, None off
    # Who may read /status and /metrics (they show source URLs and errors): these networks,
    # and, when a token is set, only with `Authorization: Bearer <token>`.
    admin_networks: tuple[IPNetwork, ...] = LOOPBACK
    admin_token: str | None = None
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
    image_probes_per_run: int = 20
    browser_timeout_seconds: float = 30.0  # a `fetch = "browser"` page, from launch to DOM
    browser_concurrency: int = 1  # pages open in the one browser at once
    proxy: str | None = None  # every fetch goes through it: http://, https://, socks5://
    # Sources fetched at once (threads; fetching waits on the network): the per-host delay
    # and robots.txt still hold across them, and storing stays one at a time.
    concurrency: int = 8
    # The shared ingest on PostgreSQL: a host's claim on a source lasts this long, renewed
    # every third of it (a dead host's sources run again at most this long after it died);
    # an idle host asks the queue for work this often.
    queue_lease_seconds: float = 30.0
    queue_poll_seconds: float = 1.0
    # A repair (feedsvc repair) is proposed only when its block reproduces at least this
    # share of the stored items the redesigned page still links: never a guess.
    repair_min_known: float = 0.8
    # What a run refused as broken does: "off" nothing, "propose" finds a repair and shows
    # it (/status, feedsvc status, /healthz, /metrics), "apply" puts it in force at once.
    auto_repair: str = "propose"


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
    custom_feeds: tuple[CustomFeed, ...] = ()

    def topic(self, slug: str) -> TopicConfig | None:
        """The topic with this slug, or None."""
        return self.topics_by_slug.get(slug)

    @cached_property
    def topics_by_slug(self) -> dict[str, TopicConfig]:
        """Every topic by its slug, made once: every render looks topics up, at any count."""
        return {topic.slug: topic for topic in self.topics}

    @cached_property
    def topic_titles(self) -> dict[str, str]:
        """Every topic's title by slug, made once (each feed document carries it)."""
        return {topic.slug: topic.title for topic in self.topics}

    @cached_property
    def topic_authors(self) -> dict[str, str]:
        """Every topic's author by slug, made once (each feed document carries it)."""
        return {topic.slug: topic.author for topic in self.topics}

    def custom_feed(self, slug: str) -> CustomFeed | None:
        """The [[custom_feeds]] entry with this slug, or None."""
        return next((f for f in self.custom_feeds if f.slug == slug), None)


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
    root = Table(raw, path, "")
    root.only("service", "ingest", "feeds", "websub", "publish", "topics", "types", "custom_feeds")
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
        image_probes_per_run=ingest_t.integer("image_probes_per_run", 20, minimum=0),
        browser_timeout_seconds=ingest_t.number("browser_timeout_seconds", 30.0, minimum=1),
        browser_concurrency=ingest_t.integer("browser_concurrency", 1, minimum=1, maximum=16),
        proxy=_proxy(ingest_t, path),
        concurrency=ingest_t.integer("concurrency", 8, minimum=1, maximum=64),
        queue_lease_seconds=ingest_t.number("queue_lease_seconds", 30.0, minimum=3, maximum=600),
        queue_poll_seconds=ingest_t.number("queue_poll_seconds", 1.0, minimum=0.1, maximum=60),
        repair_min_known=ingest_t.number("repair_min_known", 0.8, minimum=0.01, maximum=1),
        auto_repair=_choice(ingest_t, "auto_repair", AUTO_REPAIR, "propose"),
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
    topics = tuple(parse_topic(t, presets, service.title) for t in topic_tables)
    slugs = [t.slug for t in topics]
    for index, slug in enumerate(slugs):
        if slug in slugs[:index]:
            raise ConfigError(path, f"topics[{index}].slug", f'duplicate topic slug "{slug}"')
    types = {slug: label for preset in presets.values() for slug, label in preset.types.items()}
    types_t = root.table("types")
    for key in types_t.data:
        types[parse_type_slug(types_t, key)] = types_t.string(key)
    return Config(
        path=path,
        service=service,
        ingest=ingest,
        feeds=feeds,
        websub=websub,
        publish=publish,
        topics=topics,
        types=types,
        custom_feeds=parse_custom_feeds(root.array("custom_feeds"), set(slugs), path),
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///relative`, `sqlite:////absolute`), else None."""
    match = DATABASE_URL.match(url)
    if match is None or match["dialect"] != "sqlite":
        return None
    location = match["rest"].partition("?")[0]
    if not location.startswith("/") or location in ("/", "/:memory:"):
        return None
    return Path(location[1:])


def _service(table: Table, path: Path) -> ServiceConfig:
    database = table.string("database", required=True)
    if not DATABASE_URL.match(database):
        raise ConfigError(path, table.key("database"), "expected a SQLAlchemy database URL")
    db_file = sqlite_file(database)
    if db_file is not None and not db_file.is_absolute():
        query = database.partition("?")[2]
        database = f"sqlite:///{(path.parent / db_file).resolve()}" + (f"?{query}" if query else "")
    service = ServiceConfig(
        database=database,
        base_url=table.http_url("base_url", required=True).rstrip("/"),
        title=table.string("title", "feedsvc"),
        host=table.string("host", "127.0.0.1"),
        port=table.integer("port", 8000, minimum=1, maximum=65535),
        workers=table.integer("workers", 2, minimum=1, maximum=64),
        access_log=_access_log(table, path),
        admin_networks=_networks(table, "admin_networks"),
        admin_token=table.string("admin_token", None),
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
        "access_log",
        "admin_networks",
        "admin_token",
        "pool_size",
        "pool_max_overflow",
        "pool_recycle_seconds",
        "pool_timeout_seconds",
    )
    return service


def _choice(table: Table, key: str, allowed: tuple[str, ...], default: str) -> str:
    """A string that must be one of `allowed`."""
    value = table.string(key, default)
    if value not in allowed:
        expected = ", ".join(f'"{one}"' for one in allowed)
        raise ConfigError(table.path, table.key(key), f"expected one of {expected}, got {value!r}")
    return value


def _proxy(table: Table, path: Path) -> str | None:
    """[ingest] proxy: an http(s):// or socks5:// URL; `${NAME}` parts come from the environment."""
    value = table.string("proxy", None)
    if value is None:
        return None
    value = from_environment(value, path, table.key("proxy"))
    parts = urlsplit(value)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        schemes = ", ".join(f"{scheme}://" for scheme in PROXY_SCHEMES)
        raise ConfigError(path, table.key("proxy"), f"expected a proxy URL ({schemes})")
    return value


def _access_log(table: Table, path: Path) -> str | None:
    """[service] access_log: false (the default: none), "-" (standard output) or a file,
    relative to the config file. Off by default: each line costs gunicorn 8-26 % of its
    cached requests per second, and nginx in front usually logs the same requests."""
    what = 'false, "-" (standard output) or a file path'
    value = table._get("access_log", (str, bool), what, False)
    if value is True or (isinstance(value, str) and not value.strip()):
        raise ConfigError(path, table.key("access_log"), f"expected {what}, got {value!r}")
    if value is False:
        return None
    return value if value == "-" else str((path.parent / value).resolve())


def _networks(table: Table, key: str) -> tuple[IPNetwork, ...]:
    """CIDR blocks such as "10.0.0.0/8" or "::1/128"; loopback only when not set."""
    values = table._get(key, (list,), 'an array of CIDR blocks such as ["10.0.0.0/8"]', None)
    if values is None:
        return LOOPBACK
    try:
        return tuple(ipaddress.ip_network(str(value), strict=False) for value in values)
    except ValueError as exc:
        raise ConfigError(table.path, table.key(key), f"expected CIDR blocks ({exc})") from None
