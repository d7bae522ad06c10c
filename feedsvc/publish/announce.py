"""Tell the WebSub hub which feeds changed, once per changed feed; a failing hub only logs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from feedsvc.config import Config
from feedsvc.fetch.client import Fetcher, PingError
from feedsvc.keys import FeedKey, urls

log = logging.getLogger(__name__)


def announce(fetcher: Fetcher, config: Config, keys: Sequence[FeedKey]) -> None:
    """Ping the hub once per changed feed with all its URLs.

    Once a ping has failed after its retries the hub is taken to be down and the
    other feeds are not tried, so a dead hub costs an ingest one feed's retries.
    """
    if not config.websub.hub:
        return
    for done, key in enumerate(keys):
        try:
            fetcher.ping_hub(config.websub.hub, list(urls(key, config.service.base_url).values()))
        except PingError as exc:
            log.warning("%s; %d more changed feeds not announced", exc, len(keys) - done - 1)
            return
