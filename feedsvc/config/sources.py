"""The schema of one `[[topics.sources]]` table: msgspec Structs, checked once, errors by key path.

msgspec reports the path of every type error (`$.selectors.date.attr`); `parse_source`
turns it into the file-and-key message the rest of config.py gives, and then checks
what a type cannot say (CSS that compiles, regexes, URLs, time zones, slugs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import jmespath.exceptions
import msgspec
from cssselect import GenericTranslator, SelectorError
from slugify import slugify

from feedsvc.config.environment import MissingVariable, expand

FIELD_KEYS = ("title", "link", "type", "date", "summary", "image", "author")
REQUIRED_SELECTORS = ("item", "title", "link")
UTC_ZONE = ZoneInfo("UTC")
MSGSPEC_PATH = re.compile(r" - at `\$([^`]*)`$")
MSGSPEC_TYPES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "a table",
    "array": "an array",
    "str | object | array": "a CSS selector, a table or an array of them",
    "str | array": "a string or an array of strings",
}

LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


class ConfigError(Exception):
    """An unusable config file; the message names the file, the key and what was expected."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")


class Selector(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where one value of an item is: an element (`css`; none: the item itself), then
    an attribute or its text without `exclude`d descendants, then `pattern`'s first group.
    `format` lists strptime formats tried first for dates. A `kind = "json"` source writes
    `path` (a JMESPath expression) where a page writes `css`. `following`: in the siblings
    after the item up to the next of its tag (a `dt`'s `dd`; no `css`: that run, text too);
    `line`: the N-th line of the text, split at `<br>`; `preceding`: the nearest earlier
    sibling or ancestor's sibling matching `css` (a day heading over a group of posts)."""

    css: str | None = None
    attr: str | None = None
    exclude: str | None = None
    pattern: str | None = None
    format: str | list[str] = ()  # type: ignore[assignment]
    path: str | None = None
    following: bool = False
    preceding: bool = False
    line: Annotated[int, msgspec.Meta(ge=1)] | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format,) if isinstance(self.format, str) else tuple(self.format)


SelectorValue = str | Selector | list[str | Selector]
Chain = tuple[Selector, ...]  # tried in order; the first that yields a value wins


class _SelectorsSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    item: str | None = None
    title: SelectorValue | None = None
    link: SelectorValue | None = None
    type: SelectorValue | None = None
    date: SelectorValue | None = None
    summary: SelectorValue | None = None
    image: SelectorValue | None = None
    author: SelectorValue | None = None
    next: str | None = None


class _TypeRuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    path_prefix: str
    type: str


class _SourceSpec(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    preset: str | None = None
    kind: Literal["page", "feed", "json"] = "page"
    fetch: Literal["http", "browser"] = "http"
    wait_for: str | None = None
    headers: dict[str, str] = {}
    json: str | None = None
    selectors: _SelectorsSpec = _SelectorsSpec()
    type_rules: list[_TypeRuleSpec] = []
    type_map: dict[str, str] = {}
    timezone: str = "UTC"
    languages: list[str] = []
    pages: Annotated[int, msgspec.Meta(ge=1, le=50)] = 1
    page_param: str = "page"
    robots: bool = True
    link_pattern: str | None = None
    id: SelectorValue | None = None
    include: str | None = None
    exclude: str | None = None
    enrich: bool = False
    enrich_per_run: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 20
    enrich_hosts: list[str] = []
    content: Literal["summary", "full"] = "summary"


SOURCE_KEYS = _SourceSpec.__struct_fields__
SELECTOR_KEYS = _SelectorsSpec.__struct_fields__


@dataclass(frozen=True)
class Selectors:
    """Where items are in a listing page (`item`, CSS) and each field inside an item."""

    item: str
    title: Chain = ()
    link: Chain = ()
    type: Chain = ()
    date: Chain = ()
    summary: Chain = ()
    image: Chain = ()
    author: Chain = ()
    next: str | None = None  # the page's "next page" link (CSS), for `feedsvc backfill`

    def described(self, key: str) -> str:
        """The selector as the operator wrote it, for error messages."""
        chain = getattr(self, key)
        return " | ".join(s.css or "(the item)" for s in chain) if chain else "(none)"


@dataclass(frozen=True)
class TypeRule:
    """An item without a type label whose link path starts with `path_prefix` gets `type`."""

    path_prefix: str
    type: str


@dataclass(frozen=True)
class SourceConfig:
    """One listing page (or site feed, `kind = "feed"`) of a topic and how to read it."""

    url: str
    selectors: Selectors = field(default_factory=lambda: Selectors(item=""))
    preset: str | None = None
    type_rules: tuple[TypeRule, ...] = ()
    timezone: ZoneInfo = UTC_ZONE
    languages: tuple[str, ...] = ()  # BCP 47 tags; () = the page's <html lang>
    pages: int = 1
    page_param: str = "page"
    robots: bool = True
    kind: str = "page"
    link_pattern: re.Pattern[str] | None = None
    type_map: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    id: Chain = ()
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    enrich: bool = False
    enrich_per_run: int = 20
    enrich_hosts: tuple[str, ...] = ()
    fetch: str = "http"  # or "browser": the DOM after the page's scripts ran
    wait_for: str | None = None  # CSS the browser waits for before the DOM is read
    headers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    json: str | None = None  # kind = "json": CSS of the element in an HTML page holding it
    content: str = "summary"  # "full": each item's main text from its own page, once


def parse_source(
    data: Any, defaults: dict[str, Any], preset: str | None, path: Path, prefix: str
) -> SourceConfig:
    """Validate one source table, merged over its preset's `defaults`."""
    if not isinstance(data, dict):
        raise ConfigError(path, prefix, "expected a table")
    merged = {**defaults, **data}
    for name in ("selectors", "type_map"):  # tables merge key by key over the preset's
        if isinstance(data.get(name, {}), dict):
            merged[name] = {**defaults.get(name, {}), **data.get(name, {})}
    if isinstance(data.get("type_rules", []), list):  # the operator's rules win: first
        merged["type_rules"] = [*data.get("type_rules", []), *defaults.get("type_rules", [])]
    spec = _convert(merged, _SourceSpec, path, prefix)
    key = f"{prefix}.{{}}".format
    if spec.kind != "feed":
        raw_selectors = merged.get("selectors") or {}
        check = _jmespath if spec.kind == "json" else _css
        selectors = _selectors(spec.selectors, raw_selectors, path, key("selectors"), check)
    else:
        selectors = Selectors(item="")
    return SourceConfig(
        url=_http_url(spec.url, path, key("url")),
        selectors=selectors,
        preset=preset,
        type_rules=tuple(
            TypeRule(r.path_prefix, type_slug(r.type, path, key(f"type_rules[{i}].type")))
            for i, r in enumerate(spec.type_rules)
        ),
        timezone=_zone(spec.timezone, path, key("timezone")),
        languages=tuple(_language(tag, path, key("languages")) for tag in spec.languages),
        pages=spec.pages,
        page_param=spec.page_param,
        robots=spec.robots,
        kind=spec.kind,
        link_pattern=_regex(spec.link_pattern, path, key("link_pattern")),
        type_map={
            label: type_slug(slug, path, key(f"type_map.{label}")) if slug else ""
            for label, slug in spec.type_map.items()
        },
        id=_chain(spec.id, merged.get("id"), path, key("id")),
        include=_regex(spec.include, path, key("include")),
        exclude=_regex(spec.exclude, path, key("exclude")),
        enrich=spec.enrich,
        enrich_per_run=spec.enrich_per_run,
        enrich_hosts=tuple(host.lower() for host in spec.enrich_hosts),
        fetch=spec.fetch,
        wait_for=_optional_css(spec.wait_for, path, key("wait_for")),
        headers={
            name: from_environment(value, path, key(f"headers.{name}"))
            for name, value in spec.headers.items()
        },
        json=_optional_css(spec.json, path, key("json")),
        content=spec.content,
    )


def _convert(data: dict, kind: type, path: Path, prefix: str) -> Any:
    """msgspec's conversion, its error rewritten as `file: key.path: expected ...`."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise _config_error(str(exc), data, path, prefix) from None


def _config_error(message: str, data: dict, path: Path, prefix: str) -> ConfigError:
    match = MSGSPEC_PATH.search(message)
    where = match.group(1).replace("[...]", "") if match else ""  # [...]: a value in a table
    message = message[: match.start()] if match else message
    if unknown := re.fullmatch(r"Object contains unknown field `(.+)`", message):
        allowed = Selector.__struct_fields__
        if not where:
            allowed = SOURCE_KEYS
        elif where.endswith(".selectors"):
            allowed = SELECTOR_KEYS
        elif where.startswith(".type_rules"):
            allowed = _TypeRuleSpec.__struct_fields__
        key = f"{prefix}{where}.{unknown.group(1)}"
        return ConfigError(path, key, f"unknown key; expected one of: {', '.join(allowed)}")
    if missing := re.fullmatch(r"Object missing required field `(.+)`", message):
        return ConfigError(path, f"{prefix}{where}.{missing.group(1)}", "missing")
    key = f"{prefix}{where}"
    if typed := re.fullmatch(r"Expected `(.+?)`(?:, got `(\w+)`)?", message):
        wanted = typed.group(1).removesuffix(" | null")
        got = f", got {typed.group(2)} {_value_at(data, where)!r}" if typed.group(2) else ""
        return ConfigError(path, key, f"expected {MSGSPEC_TYPES.get(wanted, wanted)}{got}")
    if ranged := re.fullmatch(r"Expected `int` ([<>]=) (\d+)", message):
        bound = "at least" if ranged.group(1) == ">=" else "at most"
        return ConfigError(path, key, f"expected a number {bound} {ranged.group(2)}")
    if enum := re.fullmatch(r"Invalid enum value (.+)", message):
        allowed = "http, browser" if where == ".fetch" else "page, feed, json"
        return ConfigError(path, key, f"expected one of: {allowed}, got {enum.group(1)}")
    return ConfigError(path, key, message[:1].lower() + message[1:])


def _value_at(data: Any, where: str) -> Any:
    """The raw value at a msgspec path such as `.selectors.date[1].attr`."""
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", where):
        data = data[name] if name else data[int(index)]
    return data


Check = Callable[[str, Path, str], None]  # refuses a selector that does not compile


def _selectors(spec: _SelectorsSpec, raw: dict, path: Path, prefix: str, check: Check) -> Selectors:
    for name in REQUIRED_SELECTORS:
        if getattr(spec, name) is None:
            wanted = (
                "a JMESPath expression"
                if check is _jmespath
                else 'a CSS selector (or a preset such as "rand-topic")'
            )
            raise ConfigError(path, f"{prefix}.{name}", f"missing; expected {wanted}")
    assert spec.item is not None
    check(spec.item, path, f"{prefix}.item")
    chains = {
        name: _chain(getattr(spec, name), raw.get(name), path, f"{prefix}.{name}", check)
        for name in FIELD_KEYS
    }
    if spec.next is not None:
        _css(spec.next, path, f"{prefix}.next")
    return Selectors(item=spec.item, next=spec.next, **chains)


def _chain(
    value: SelectorValue | None, raw: Any, path: Path, key: str, check: Check | None = None
) -> Chain:
    """A selector value as the tuple extract tries in order; every part checked."""
    if value is None:
        return ()
    parts = value if isinstance(value, list) else [value]
    check = check or _css
    chain = []
    for index, part in enumerate(parts):
        where = f"{key}[{index}]" if isinstance(raw, list) else key
        selector = Selector(css=part) if isinstance(part, str) else part
        written = where if isinstance(part, str) else f"{where}.css"
        if selector.path is not None:  # JSON: the expression takes the place of the CSS
            selector = msgspec.structs.replace(selector, css=selector.path, path=None)
            written = f"{where}.path"
        if selector.css is not None:
            check(selector.css, path, written)
        if selector.exclude is not None and check is _css:
            _css(selector.exclude, path, f"{where}.exclude")
        _regex(selector.pattern, path, f"{where}.pattern")
        if selector.preceding and (selector.following or selector.css is None):
            raise ConfigError(path, f"{where}.preceding", "needs a css and no following")
        chain.append(selector)
    if not chain:
        raise ConfigError(path, key, "expected at least one selector")
    return tuple(chain)


def _css(value: str, path: Path, key: str) -> None:
    try:
        if not value.strip():
            raise SelectorError("empty")
        GenericTranslator().css_to_xpath(value)
    except SelectorError as exc:
        raise ConfigError(path, key, f"invalid CSS selector {value!r} ({exc})") from None


def from_environment(value: str, path: Path, key: str) -> str:
    """`value` with its `${NAME}` parts taken from the environment; a missing one is named."""
    try:
        return expand(value)
    except MissingVariable as exc:
        raise ConfigError(path, key, str(exc)) from None


def _optional_css(value: str | None, path: Path, key: str) -> str | None:
    return value if value is None else (_css(value, path, key) or value)


def _jmespath(value: str, path: Path, key: str) -> None:
    try:
        jmespath.compile(value)
    except jmespath.exceptions.JMESPathError as exc:
        problem = " ".join(str(exc).split())
        raise ConfigError(path, key, f"invalid JMESPath expression {value!r} ({problem})") from None


def _regex(value: str | None, path: Path, key: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise ConfigError(path, key, f"invalid regular expression {value!r} ({exc})") from None


def _http_url(value: str, path: Path, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(path, key, f"expected an http:// or https:// URL, got {value!r}")
    return value


def _language(tag: str, path: Path, key: str) -> str:
    """A BCP 47 language tag ("de", "pt-BR"), lower case."""
    if not LANGUAGE_TAG.fullmatch(tag):
        raise ConfigError(path, key, f'expected language tags such as "de" or "pt-BR", got {tag!r}')
    return tag.lower()


def _zone(name: str, path: Path, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(path, key, f'unknown time zone "{name}"; expected an IANA name') from None


def type_slug(value: str, path: Path, key: str) -> str:
    """A type slug as written, refused when it is not one (with the slug it should be)."""
    if value != slugify(value) or not value:
        raise ConfigError(path, key, f'expected a type slug such as "{slugify(value)}"')
    return value
