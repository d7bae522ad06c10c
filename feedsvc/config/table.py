"""Hand-written validation of a TOML table that knows its own key path, for error messages
that name the file and the key (`[service]`, `[ingest]`, ... ; sources use msgspec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.config.sources import ConfigError

_REQUIRED: Any = object()


class Table:
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

    def table(self, name: str, *, required: bool = False) -> Table:
        value = self._get(name, (dict,), "a table", _REQUIRED if required else {})
        return Table(value, self.path, self.key(name))

    def array(self, name: str) -> list[Table]:
        value = self._get(name, (list,), "an array of tables", [])
        return [Table(item, self.path, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]
