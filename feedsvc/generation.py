"""The publish generation: the marker file the publisher replaces after every publish.

Web workers stat it to know whether the documents they keep are still current; the
export replaces it. Both sides find it here, so the web tier needs nothing of the export.
"""

from __future__ import annotations

from pathlib import Path

from feedsvc.config import Config

GENERATION_MARKER = ".generation"


def generation_marker(config: Config) -> Path:
    """The file whose replacement tells every web worker to drop its cached documents."""
    return config.publish.directory / GENERATION_MARKER
