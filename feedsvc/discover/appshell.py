"""Recognise an app shell: a page whose server HTML holds no content, only the scripts that
build it in the browser. Pure; discover uses it to say why it found no list and what to
write instead (`fetch = "browser"`, or the JSON endpoint the page names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree

from feedsvc.extract.listing import parse_html

ROOT_IDS = ("root", "app", "__next", "__nuxt", "___gatsby", "svelte", "main-app", "application")
MAX_SHELL_TEXT = 400  # characters of visible text an app shell may hold (a title, a notice)
# API addresses inline scripts often name: WordPress REST, a site's /api/, .json documents
API_IN_SCRIPT = re.compile(r"""["'`]((?:https?://[^"'`\s]+)?/(?:wp-json|api)/[^"'`\s]*)["'`]""")
JSON_IN_SCRIPT = re.compile(
    r"""["'`]((?:https?://[^"'`\s]+)?/[^"'`\s]+\.json(?:\?[^"'`\s]*)?)["'`]"""
)


@dataclass(frozen=True)
class AppShell:
    """Why the page looks like an app shell, and the JSON it names (absolute URLs)."""

    signs: list[str]
    endpoints: list[str] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)  # CSS of JSON held in the page itself

    def advice(self) -> list[str]:
        """What the operator can write instead, best first."""
        lines = [f"the page looks built by JavaScript: {', '.join(self.signs)}"]
        lines += [
            f'its data is in the page: kind = "json" with json = "{css}" reads it without a browser'
            for css in self.embedded
        ]
        lines += [
            f'it names a JSON endpoint: {url} (kind = "json" reads it without a browser)'
            for url in self.endpoints
        ]
        lines.append('or read the page after its scripts ran: fetch = "browser"')
        return lines


def app_shell(body: bytes | str, url: str, encoding: str | None = None) -> AppShell | None:
    """The signs that `body` is an app shell, or None when it holds content of its own."""
    document = parse_html(body, encoding, keep_scripts=True)
    scripts = document.xpath("//script")
    bundles = [s.get("src") for s in scripts if s.get("src")]
    text = " ".join(_visible_text(document).split())
    signs = []
    for root_id in ROOT_IDS:
        roots = document.xpath(f"//*[@id='{root_id}']")
        if roots and not " ".join(roots[0].text_content().split()):
            signs.append(f'an empty root element <{roots[0].tag} id="{root_id}">')
    noscript = " ".join(" ".join(n.text_content().split()) for n in document.xpath("//noscript"))
    if re.search(r"javascript", noscript, re.IGNORECASE):
        signs.append(f'<noscript> "{noscript[:80]}"')
    if bundles:
        signs.append(f"{len(bundles)} script bundle{'s' if len(bundles) > 1 else ''}")
    if len(text) <= MAX_SHELL_TEXT:
        signs.append(f"{len(text)} characters of text")
    if len(signs) < 2 or (not bundles and not document.xpath("//script[not(@src)]")):
        return None
    return AppShell(signs, _endpoints(document, url), _embedded(document))


def _visible_text(document: etree._Element) -> str:
    return " ".join(
        node.strip()
        for node in document.xpath("//body//text()[not(ancestor::script or ancestor::style)]")
        if node.strip()
    )


def _endpoints(document: etree._Element, url: str) -> list[str]:
    """JSON addresses the page names: alternate links, the WordPress API link, inline scripts."""
    found = [
        link.get("href")
        for link in document.xpath("//link[@href]")
        if "json" in (link.get("type") or "") or link.get("rel") == "https://api.w.org/"
    ]
    for script in document.xpath("//script[not(@src)]"):
        source = script.text or ""
        found += API_IN_SCRIPT.findall(source) + JSON_IN_SCRIPT.findall(source)
    absolute = [urljoin(url, href) for href in found if href]
    return list(dict.fromkeys(absolute))[:5]


def _embedded(document: etree._Element) -> list[str]:
    """CSS of the JSON a page carries for its scripts (__NEXT_DATA__, __NUXT_DATA__, state)."""
    found = []
    for script in document.xpath("//script[not(@src)][@id]"):
        kind = (script.get("type") or "").lower()
        if "json" in kind and (script.text or "").strip().startswith(("{", "[")):
            found.append(f"script#{script.get('id')}")
    return found
