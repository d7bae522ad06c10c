"""OPML 2.0 subscription lists: every feed as one outline, grouped in folders. Pure.

Feed readers import an OPML file to subscribe to many feeds at once and keep
its folders. Each outline points at one format of a feed: Atom, because it is
the XML format that carries each entry's `updated` time (an item edited on its
page shows up as edited, not as new) and unambiguous RFC 3339 dates; every
reader that imports OPML reads Atom. RSS and JSON Feed stay one click away on
the topic pages. Written with the standard library's ElementTree: a web worker that
serves OPML needs no lxml.

Topic feeds and their per-type feeds overlap, and some readers key items by guid
across all feeds (newsboat #898: the topic feed then looks empty), so besides the
full list there are sets without overlap: `topics` (each topic's feed and weekly
digest) and `types` (one feed per type across every topic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as etree

PREFERRED_FORMAT = "atom"
MEDIA_TYPE = "text/x-opml; charset=utf-8"
SPEC_URL = "https://opml.org/spec2.opml"
# ?set=... of /feeds.opml, and what each holds (the document's title says it too)
SETS = {
    "all": "every feed",
    "topics": "topic feeds and weekly digests",
    "types": "one feed per type, across topics",
}


@dataclass(frozen=True)
class Outline:
    """One subscription: the feed's title, its URL and the web page it stands for."""

    title: str
    xml_url: str
    html_url: str
    description: str = ""


@dataclass(frozen=True)
class Folder:
    """A named group of subscriptions; readers that import OPML turn it into a folder."""

    title: str
    outlines: Sequence[Outline]


@dataclass(frozen=True)
class TopicOutlines:
    """One topic's subscriptions: its feed, its weekly digest and its per-type feeds."""

    title: str
    feed: Outline
    digest: Outline
    by_type: Sequence[Outline]


def opml_folders(
    topics: Sequence[TopicOutlines], by_type: Folder | None, chosen: str
) -> list[Folder]:
    """The folders of one set: "all", "topics" (no overlap) or "types" (no overlap)."""
    folders = []
    if chosen in ("all", "topics"):
        for topic in topics:
            extra = topic.by_type if chosen == "all" else ()
            folders.append(Folder(topic.title, [topic.feed, topic.digest, *extra]))
    if chosen in ("all", "types") and by_type is not None:
        folders.append(by_type)
    return folders


def opml_document(title: str, owner: str, folders: Sequence[Folder]) -> bytes:
    """An OPML 2.0 document listing every outline of every folder, in the order given."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "ownerName").text = owner
    etree.SubElement(head, "docs").text = SPEC_URL
    body = etree.SubElement(root, "body")
    for folder in folders:
        # A folder has text only: the W3C validator wants a `type` on any outline with a title.
        group = etree.SubElement(body, "outline", text=folder.title)
        for outline in folder.outlines:
            etree.SubElement(
                group,
                "outline",
                type="rss",  # OPML 2.0 calls every feed subscription "rss", Atom included
                text=outline.title,
                title=outline.title,
                xmlUrl=outline.xml_url,
                htmlUrl=outline.html_url,
                description=outline.description,
            )
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"
