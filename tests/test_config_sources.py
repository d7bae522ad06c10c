"""The source schema (selector language, link_pattern, type_map, enrich, kind, id): good
tables load into the values extract and normalize use; bad ones name the file and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_config

from feedsvc.config import ConfigError, Selector, load

SELECTORS = '\n  [topics.sources.selectors]\n  item = "article"\n  title = "h2"\n  link = "h2 a"\n'


def source_with(tmp_path: Path, keys: str, selectors: str = "") -> Path:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    text = path.read_text().replace('preset = "rand-topic"', keys + SELECTORS + selectors)
    path.write_text(text)
    return path


def test_every_form_of_the_selector_language_loads(tmp_path: Path) -> None:
    path = source_with(
        tmp_path,
        'link_pattern = "/research/"\n  type_map = { "Foreign Affairs" = "journal-article", Promo = "" }\n'
        '  enrich = true\n  enrich_per_run = 5\n  enrich_hosts = ["Cdn.Example.org"]\n  id = ".ep-no"',
        '  date = [{ css = "span.date", attr = "content" }, { css = "span.date", format = ["%d.%m.%Y", "%Y"] }]\n'
        '  image = { attr = "style", pattern = "url\\\\(([^)]+)\\\\)" }\n'
        '  summary = { css = ".teaser", exclude = ".teaser__action" }\n'
        "  author = { following = true, line = 2 }\n"
        '  type = { css = "h2.day", preceding = true }\n',
    )
    source = load(path).topics[0].sources[0]
    assert source.selectors.title == (Selector(css="h2"),)
    assert source.selectors.date == (
        Selector(css="span.date", attr="content"),
        Selector(css="span.date", format=["%d.%m.%Y", "%Y"]),
    )
    assert source.selectors.date[1].formats == ("%d.%m.%Y", "%Y")
    assert source.selectors.image == (Selector(attr="style", pattern=r"url\(([^)]+)\)"),)
    assert source.selectors.summary[0].exclude == ".teaser__action"
    assert source.link_pattern.search("http://x/research/a")
    assert source.type_map == {"Foreign Affairs": "journal-article", "Promo": ""}
    assert (source.enrich, source.enrich_per_run, source.enrich_hosts) == (
        True,
        5,
        ("cdn.example.org",),
    )
    assert source.id == (Selector(css=".ep-no"),)
    assert source.selectors.author == (Selector(following=True, line=2),)
    assert source.selectors.type == (Selector(css="h2.day", preceding=True),)


def test_a_feed_source_needs_no_selectors(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/feed.xml")
    path.write_text(
        path.read_text().replace('preset = "rand-topic"', 'kind = "feed"\n  include = "(?i)arctic"')
    )
    source = load(path).topics[0].sources[0]
    assert source.kind == "feed" and source.include.search("Arctic")


BAD_SOURCES = [
    (
        "",
        '  date = { css = "span", attr = 3 }\n',
        "topics[0].sources[0].selectors.date.attr: expected a string, got int",
    ),
    (
        "",
        '  date = { css = "span", attribute = "content" }\n',
        "topics[0].sources[0].selectors.date.attribute: unknown key; expected one of: css, attr, exclude, pattern, format",
    ),
    (
        "",
        '  date = ["span", { css = "p >> q" }]\n',
        "topics[0].sources[0].selectors.date[1].css: invalid CSS selector 'p >> q'",
    ),
    (
        "",
        '  date = { css = "span", exclude = "" }\n',
        "topics[0].sources[0].selectors.date.exclude: invalid CSS selector ''",
    ),
    (
        "",
        '  image = { pattern = "url\\\\((" }\n',
        "topics[0].sources[0].selectors.image.pattern: invalid regular expression",
    ),
    (
        "",
        "  date = { preceding = true }\n",
        "topics[0].sources[0].selectors.date.preceding: needs a css and no following",
    ),
    (
        "",
        '  date = { css = "h2", preceding = true, following = true }\n',
        "topics[0].sources[0].selectors.date.preceding: needs a css and no following",
    ),
    (
        "",
        "  date = { following = true, line = 0 }\n",
        "topics[0].sources[0].selectors.date.line: expected a number at least 1",
    ),
    (
        "",
        "  date = 3\n",
        "topics[0].sources[0].selectors.date: expected a CSS selector, a table or an array of them, got int",
    ),
    (
        "",
        '  headline = "h1"\n',
        "topics[0].sources[0].selectors.headline: unknown key; expected one of: item, title, link",
    ),
    (
        'link_pattern = "(unclosed"',
        "",
        "topics[0].sources[0].link_pattern: invalid regular expression '(unclosed'",
    ),
    ('kind = "atom"', "", "topics[0].sources[0].kind: expected one of: page, feed"),
    (
        'type_map = { "Foreign Affairs" = "Journal Article" }',
        "",
        'topics[0].sources[0].type_map.Foreign Affairs: expected a type slug such as "journal-article"',
    ),
    (
        "enrich_per_run = -1",
        "",
        "topics[0].sources[0].enrich_per_run: expected a number at least 0",
    ),
    ('enrich = "yes"', "", "topics[0].sources[0].enrich: expected true or false, got str"),
    ("pages = 99", "", "topics[0].sources[0].pages: expected a number at most 50"),
    ("enrich_hosts = [1]", "", "topics[0].sources[0].enrich_hosts[0]: expected a string, got int"),
    (
        "unknown_key = 1",
        "",
        "topics[0].sources[0].unknown_key: unknown key; expected one of: url, preset, kind",
    ),
    (
        '[[topics.sources.type_rules]]\n  path_prefix = "/x/"',
        "",
        "topics[0].sources[0].type_rules[0].type: missing",
    ),
    ('fetch = "chrome"', "", "topics[0].sources[0].fetch: expected one of: http, browser"),
    ('kind = "xml"', "", "topics[0].sources[0].kind: expected one of: page, feed, json"),
    ('wait_for = "article..post"', "", "topics[0].sources[0].wait_for: invalid CSS selector"),
    ('json = "script#"', "", "topics[0].sources[0].json: invalid CSS selector"),
    ("headers = { Cookie = 1 }", "", "topics[0].sources[0].headers: expected a string, got int"),
    (
        'headers = { Cookie = "consent=${FEEDSVC_UNSET_FOR_TESTS}" }',
        "",
        "topics[0].sources[0].headers.Cookie: environment variable FEEDSVC_UNSET_FOR_TESTS is "
        "not set",
    ),
]


@pytest.mark.parametrize(
    ("keys", "selectors", "message"), BAD_SOURCES, ids=[c[2].split(":")[0] for c in BAD_SOURCES]
)
def test_a_bad_source_names_file_and_key(
    tmp_path: Path, keys: str, selectors: str, message: str
) -> None:
    if keys.startswith("[[topics.sources.type_rules]]"):
        path = source_with(tmp_path, "")
        path.write_text(path.read_text() + "  " + keys + "\n")
    else:
        path = source_with(tmp_path, keys, selectors)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_check_names_the_key_through_the_real_cli(tmp_path: Path) -> None:
    path = source_with(tmp_path, "", '  date = { css = "span", attr = 3 }\n')
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"feedsvc: config error: {path}: topics[0].sources[0].selectors.date.attr: "
        "expected a string, got int 3\n"
    )


def test_the_commented_sources_in_the_shipped_config_load(tmp_path: Path) -> None:
    """The examples in config.toml are real: uncommented, they validate and read as documented."""
    shipped = (Path(__file__).resolve().parent.parent / "config.toml").read_text(encoding="utf-8")
    head, examples = shipped.split("  # For any other site", 1)
    lines = [line.removeprefix("  # ") for line in examples.splitlines()]
    toml = [line for line in lines if line.startswith("[") or " = " in line.split("#")[0]]
    path = tmp_path / "config.toml"
    path.write_text(head + "\n".join(toml) + "\n", encoding="utf-8")
    _, drupal, rendered, api, site_feed = load(path).topics[0].sources
    assert drupal.selectors.title == (Selector(css=".teaser__title", exclude=".teaser__action"),)
    assert drupal.selectors.image[0].pattern == "url\\(['\"]?([^'\")]+)"
    assert drupal.enrich and drupal.type_rules[0].path_prefix == "/reports/"
    assert site_feed.kind == "feed" and site_feed.exclude.search("Sponsored")
    assert rendered.fetch == "browser" and rendered.wait_for == "article.post-card"
    assert rendered.headers == {"Accept-Language": "en", "Cookie": "consent=yes"}
    assert drupal.fetch == "http" and not drupal.headers
    assert api.kind == "json" and api.selectors.title == (Selector(css="title.rendered"),)
    assert api.selectors.date[0].formats == ("%Y-%m-%dT%H:%M:%S",)


@pytest.mark.parametrize(
    ("ingest", "message"),
    [
        ('proxy = "ftp://proxy:21"', "ingest.proxy: expected a proxy URL (http://, https://"),
        ('proxy = "http://${FEEDSVC_UNSET_FOR_TESTS}@proxy:3128"', "ingest.proxy: environment"),
        ("browser_concurrency = 0", "ingest.browser_concurrency: expected"),
        ("browser_timeout_seconds = 0.5", "ingest.browser_timeout_seconds: expected"),
    ],
)
def test_a_bad_browser_or_proxy_setting_names_its_key(
    tmp_path: Path, ingest: str, message: str
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html", ingest + "\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_browser_and_proxy_settings_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSVC_TEST_PROXY_PASSWORD", "pa55")
    extra = (
        'proxy = "socks5h://feeds:${FEEDSVC_TEST_PROXY_PASSWORD}@127.0.0.1:1080"\n'
        "browser_concurrency = 2\nbrowser_timeout_seconds = 45\n"
    )
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html", extra, 'fetch = "browser"')
    config = load(path)
    assert config.ingest.proxy == "socks5h://feeds:pa55@127.0.0.1:1080"
    assert (config.ingest.browser_concurrency, config.ingest.browser_timeout_seconds) == (2, 45)
    assert config.topics[0].sources[0].fetch == "browser"
    assert (
        load(write_config(tmp_path, "http://127.0.0.1:9/x.html")).ingest.browser_timeout_seconds
        == 30
    )


def test_languages_are_language_tags(tmp_path) -> None:
    """`languages` takes BCP 47 tags; anything else is named with its key."""
    from feedsvc.config import parse

    def source(languages: object) -> dict:
        return {
            "service": {"database": "sqlite://", "base_url": "http://127.0.0.1"},
            "topics": [
                {
                    "slug": "t",
                    "title": "T",
                    "sources": [
                        {
                            "url": "https://example.org/",
                            "languages": languages,
                            "selectors": {"item": "li", "title": "a", "link": "a"},
                        }
                    ],
                }
            ],
        }

    parsed = parse(source(["de", "pt-BR"]), tmp_path / "c.toml")
    assert parsed.topics[0].sources[0].languages == ("de", "pt-br")
    with pytest.raises(ConfigError, match=r"languages.*language tags"):
        parse(source(["German!"]), tmp_path / "c.toml")
