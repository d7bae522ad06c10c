"""Publish rendered feeds as files, atomically, for nginx or any static host or CDN.

Each feed format becomes `<directory>/<feed path>/feed.<fmt>` with its mtime set to the
feed's Last-Modified, a gzip sibling `feed.<fmt>.gz`, and for each of the two a
`.headers` file holding the exact headers the app sends (deploy/feedsvc_static.lua reads
it so nginx answers with the app's ETag). The body is replaced before its headers: a
reader racing a publish may get new bytes with the old ETag, which its next poll
corrects, but never old bytes under a new ETag, which a 304 would keep forever.

A feed the store no longer keeps (a [[custom_feeds]] entry taken out of config.toml) loses
its files too: nginx answers from the directory without asking the app, and would serve
the last bytes forever where the app says 404.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from feedsvc.config import Config
from feedsvc.formats import FORMATS
from feedsvc.generation import generation_marker
from feedsvc.headers import feed_headers
from feedsvc.keys import FeedKey
from feedsvc.model import Rendered

HEADERS_SUFFIX = ".headers"


def export(
    config: Config, feeds: Mapping[FeedKey, Mapping[str, Rendered]], *, changed: bool = True
) -> None:
    """Write these feeds into the directory, then, when anything `changed` (or there is no
    marker yet), tell every web worker on this host with one marker bump."""
    for key, outputs in feeds.items():
        export_feed(config, key, outputs)
    if changed or not generation_marker(config).exists():
        bump_generation(config)


def export_whole(config: Config, feeds: Mapping[FeedKey, Mapping[str, Rendered]]) -> None:
    """Remove the files of every feed the store no longer keeps, then write those it keeps
    and bump the marker: a new, emptied or stale directory made whole."""
    prune(config, feeds.keys())
    export(config, feeds)


def prune(config: Config, kept: Collection[FeedKey]) -> int:
    """Remove the files of every feed in the directory that is not `kept`; how many feeds."""
    directory = config.publish.directory
    gone = 0
    for folder, _, names in os.walk(directory):
        if not any(f"feed.{fmt}" in names for fmt in FORMATS):
            continue
        try:
            key = FeedKey.from_path(Path(folder).relative_to(directory).as_posix())
        except ValueError:  # not a feed's folder: files feedsvc did not write
            continue
        if key not in kept:
            remove_feed(config, key, FORMATS)
            gone += 1
    return gone


def remove_feed(config: Config, key: FeedKey, formats: Iterable[str]) -> None:
    """Remove these formats' files of a feed (plain, gzip and their headers); its folder
    goes once empty."""
    folder = config.publish.directory / key.path
    for fmt in formats:
        plain = folder / f"feed.{fmt}"
        for path in (plain, _gz(plain)):
            for name in (path.name, path.name + HEADERS_SUFFIX):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
    with contextlib.suppress(OSError):  # not empty, or already gone
        folder.rmdir()


def export_feed(config: Config, key: FeedKey, outputs: Mapping[str, Rendered]) -> None:
    """Write each format of one feed (plain and gzip, each with its headers) into the directory."""
    folder = config.publish.directory / key.path
    for fmt, out in outputs.items():
        plain = folder / f"feed.{fmt}"
        mtime = out.last_modified.timestamp()
        for path, body, gzipped in ((plain, out.body, False), (_gz(plain), out.gzip_body, True)):
            headers = feed_headers(out, fmt, config, gzipped)
            write_atomic(path, body, mtime)
            lines = "".join(f"{name}: {value}\n" for name, value in headers)
            write_atomic(path.with_name(path.name + HEADERS_SUFFIX), lines.encode("ascii"))


def bump_generation(config: Config) -> None:
    """Replace the marker (new inode, new mtime) after a publish, so workers drop stale entries."""
    write_atomic(generation_marker(config), f"{time.time_ns()}\n".encode("ascii"))


def write_atomic(path: Path, data: bytes, mtime: float | None = None) -> None:
    """Write a temp file beside `path`, then rename it over: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)  # mkstemp makes 0600; nginx workers run as another user
        if mtime is not None:
            os.utime(temp, (mtime, mtime))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _gz(path: Path) -> Path:
    return path.with_name(path.name + ".gz")
