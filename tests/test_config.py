"""Config validation: good files load, bad files name the file and the key, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_config

from feedsvc.config import ConfigError, load
from feedsvc.jobs.worker import QueueTiming

REPO = Path(__file__).resolve().parent.parent


def feedsvc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_shipped_config_declares_the_real_topic() -> None:
    config = load(REPO / "config.toml")
    topic = config.topic("security-cooperation")
    assert topic is not None and topic.title == "Security Cooperation"
    source = topic.sources[0]
    assert source.url == "https://www.rand.org/topics/security-cooperation.html"
    assert source.preset == "rand-topic" and source.selectors.item == "ul.teasers > li"
    assert config.service.database == f"sqlite:///{REPO / 'var' / 'feedsvc.sqlite3'}"
    assert (config.ingest.interval_minutes, config.feeds.default_limit) == (60, 50)


def test_check_accepts_the_shipped_config() -> None:
    result = feedsvc("--config", str(REPO / "config.toml"), "check")
    assert result.returncode == 0, result.stderr
    assert "1 topics, 1 sources" in result.stdout


def test_config_comes_from_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    env_run = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,
        env={"FEEDSVC_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
    )
    assert env_run.returncode == 0, env_run.stderr
    assert str(path) in env_run.stdout


BAD_CONFIGS = [
    ("missing base_url", 'base_url = "http://feeds.test"', "", "service.base_url: missing"),
    (
        "wrong type",
        "interval_minutes = 30",
        'interval_minutes = "often"',
        "ingest.interval_minutes: expected an integer, got str",
    ),
    (
        "out of range",
        "interval_minutes = 30",
        "interval_minutes = 0",
        "ingest.interval_minutes: expected a number at least 1",
    ),
    (
        "unknown preset",
        'preset = "rand-topic"',
        'preset = "rand-topics"',
        'topics[0].sources[0].preset: unknown preset "rand-topics"; expected one of: rand-topic',
    ),
    (
        "bad source url",
        'url = "http://127.0.0.1:9/x.html"',
        'url = "ftp://example.org/x"',
        "topics[0].sources[0].url: expected an http:// or https:// URL",
    ),
    (
        "bad base url",
        'base_url = "http://feeds.test"',
        'base_url = "feeds.test"',
        "service.base_url: expected an http:// or https:// URL",
    ),
    (
        "typo in a key",
        "timeout_seconds = 5",
        "timeout_secs = 5",
        "ingest.timeout_secs: unknown key; expected one of: interval_minutes",
    ),
    (
        "bad time zone",
        'preset = "rand-topic"',
        'preset = "rand-topic"\n  timezone = "Mars/Base"',
        'topics[0].sources[0].timezone: unknown time zone "Mars/Base"',
    ),
    (
        "bad selector",
        'preset = "rand-topic"',
        'preset = "rand-topic"\n  [topics.sources.selectors]\n  item = "ul >> li"',
        "topics[0].sources[0].selectors.item: invalid CSS selector",
    ),
    (
        "no selectors, no preset",
        'preset = "rand-topic"',
        "",
        "topics[0].sources[0].selectors.item: missing; expected a CSS selector",
    ),
    (
        "bad slug",
        'slug = "security-cooperation"',
        'slug = "Security Cooperation"',
        'topics[0].slug: expected a lower-case slug such as "security-cooperation"',
    ),
    (
        "bad database",
        'database = "sqlite:///var/feedsvc.sqlite3"',
        'database = "not a url"',
        "service.database: expected a SQLAlchemy database URL",
    ),
    (
        "access log true",
        'base_url = "http://feeds.test"',
        'base_url = "http://feeds.test"\naccess_log = true',
        'service.access_log: expected false, "-" (standard output) or a file path, got True',
    ),
    (
        "access log number",
        'base_url = "http://feeds.test"',
        'base_url = "http://feeds.test"\naccess_log = 1',
        'service.access_log: expected false, "-" (standard output) or a file path, got int 1',
    ),
    ("broken toml", "[ingest]", "[ingest", "not valid TOML"),
    (
        "author not text",
        'title = "Security Cooperation"',
        'title = "Security Cooperation"\nauthor = 7',
        "topics[0].author: expected a string, got int",
    ),
    (
        "negative probes",
        "image_probes_per_run = 0",
        "image_probes_per_run = -1",
        "ingest.image_probes_per_run: expected a number at least 0",
    ),
    (
        "lease shorter than a renewal round trip",
        "image_probes_per_run = 0",
        "image_probes_per_run = 0\nqueue_lease_seconds = 1",
        "ingest.queue_lease_seconds: expected a number from 3 to 600, got 1.0",
    ),
]


def test_the_shared_ingest_is_paced_by_the_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    assert QueueTiming.of(load(path)) == QueueTiming(1800.0, 30.0, 1.0)  # the defaults
    path.write_text(
        path.read_text().replace(
            "[ingest]\n", "[ingest]\nqueue_lease_seconds = 12\nqueue_poll_seconds = 0.5\n", 1
        )
    )
    assert QueueTiming.of(load(path)) == QueueTiming(1800.0, 12.0, 0.5)


def test_topic_author_defaults_to_the_service_title(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    assert load(path).topics[0].author == "feedsvc"
    text = path.read_text().replace(
        'base_url = "http://feeds.test"', 'base_url = "http://feeds.test"\ntitle = "Desk & Co"'
    )
    path.write_text(text)
    assert load(path).topics[0].author == "Desk & Co"
    path.write_text(
        text.replace(
            'title = "Security Cooperation"', 'title = "Security Cooperation"\nauthor = "RAND"'
        )
    )
    assert load(path).topics[0].author == "RAND"
    assert load(REPO / "config.toml").topics[0].author == "RAND Corporation"


@pytest.mark.parametrize(
    ("case", "old", "new", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, case: str, old: str, new: str, message: str
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")
    result = feedsvc("--config", str(path), "check")
    assert result.returncode == 2
    assert result.stderr == f"feedsvc: config error: {caught.value}\n"
    assert "Traceback" not in result.stderr


def test_missing_file_is_named(tmp_path: Path) -> None:
    result = feedsvc("--config", str(tmp_path / "nope.toml"), "check")
    assert result.returncode == 2
    assert result.stderr == f"feedsvc: config error: {tmp_path / 'nope.toml'}: file not found\n"


def test_duplicate_topic_slug(tmp_path: Path) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    path.write_text(path.read_text() + "[[topics]]" + path.read_text().split("[[topics]]")[1])
    with pytest.raises(ConfigError, match=r"topics\[1\]\.slug: duplicate topic slug"):
        load(path)


def test_selectors_written_in_config_override_the_preset(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "http://127.0.0.1:9/x.html",
        source_extra='pages = 3\n  [topics.sources.selectors]\n  item = "article"',
    )
    source = load(path).topics[0].sources[0]
    assert source.selectors.item == "article"
    assert source.selectors.title[0].css == "div.text h3"  # the rest of the preset stays
    assert source.pages == 3


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        ("access_log = false", None),
        ('access_log = "-"', "-"),
        ('access_log = "logs/a.log"', "logs/a.log"),
    ],
)
def test_access_log_is_off_unless_asked_for(
    tmp_path: Path, line: str, expected: str | None
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9/x.html")
    path.write_text(path.read_text().replace("[ingest]", f"{line}\n[ingest]", 1))
    found = load(path).service.access_log
    if expected and expected != "-":
        expected = str(tmp_path / expected)  # relative to the config file
    assert found == expected
