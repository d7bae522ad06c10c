"""A feed as a readable HTML page for a browser tab, made by the same feed.xsl a browser applies.

Chromium shows feed media types as plain text and is removing client-side XSLT, so the
server applies the stylesheet itself. Imported only when a browser first opens a feed:
lxml's XSLT stays out of workers that only serve feed readers.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from lxml import etree

from feedsvc.formats import FEED_STYLESHEET


def browser_page(feed_xml: bytes) -> bytes:
    """The feed as a readable HTML page."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return bytes(_feed_stylesheet()(etree.fromstring(feed_xml, parser)))


@cache
def _feed_stylesheet() -> etree.XSLT:
    """feed.xsl, compiled once per process; it may read nothing but the feed."""
    source = resources.files("feedsvc").joinpath("static", FEED_STYLESHEET).read_bytes()
    return etree.XSLT(etree.XML(source), access_control=etree.XSLTAccessControl.DENY_ALL)
