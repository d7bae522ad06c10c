"""The fingerprint of what shapes a source's extraction, so a corrected config takes effect.

When an operator fixes a selector, the site's page has not changed: it answers 304 or the
same bytes. The store keeps this fingerprint per source; a different one makes the next
ingest read the page again and re-extract it once (`reextracted`).
"""

from __future__ import annotations

import hashlib
import json

import msgspec

from feedsvc.config.sources import SourceConfig

# A rendered page's validators are kept only when its document holds its data; a store from
# before kept the document's Last-Modified whatever the page loaded (a shell whose script
# fetches the list would answer 304 for ever), so a browser source is read again once.
# None: the fingerprint as it was before (tests emulate such a store with it).
BROWSER_VALIDATORS: str | None = "kept when the document holds the page's data"


def extraction_fingerprint(source: SourceConfig) -> str:
    """A digest of every setting that changes which items a page yields or what they hold."""
    shaping = {
        "url": source.url,
        "kind": source.kind,
        "preset": source.preset,
        "selectors": source.selectors,
        "id": source.id,
        "type_rules": source.type_rules,
        "type_map": dict(sorted(source.type_map.items())),
        "link_pattern": source.link_pattern,
        "include": source.include,
        "exclude": source.exclude,
        "timezone": source.timezone,
        "pages": source.pages,
        "page_param": source.page_param,
    }
    # keys added later count only when set: an upgrade does not re-extract every source
    shaping |= {
        key: getattr(source, key)
        for key in ("fetch", "json")
        if getattr(source, key) not in (None, "http")
    }
    if source.languages:
        shaping["languages"] = source.languages
    if source.fetch == "browser" and BROWSER_VALIDATORS:
        shaping["browser_validators"] = BROWSER_VALIDATORS
    plain = msgspec.to_builtins(shaping, enc_hook=_plain)
    encoded = json.dumps(plain, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def _plain(value: object) -> str:
    """Compiled patterns and zones by what they say (`re.compile('...')`, the zone's key)."""
    return str(value)
