"""Read config.toml: typed, validated settings whose every error names the file and the key.

Pure but for reading the one file. Everything the rest of feedsvc needs is re-exported
here, so callers write `from feedsvc.config import Config, load`.
"""

from feedsvc.config.settings import (
    Config,
    FeedsConfig,
    IngestConfig,
    PublishConfig,
    ServiceConfig,
    WebSubConfig,
    load,
    parse,
    resolve_path,
    sqlite_file,
)
from feedsvc.config.sources import ConfigError, Selector, SourceConfig
from feedsvc.config.topics import TopicConfig

__all__ = [
    "Config",
    "ConfigError",
    "FeedsConfig",
    "IngestConfig",
    "PublishConfig",
    "Selector",
    "ServiceConfig",
    "SourceConfig",
    "TopicConfig",
    "WebSubConfig",
    "load",
    "parse",
    "resolve_path",
    "sqlite_file",
]
