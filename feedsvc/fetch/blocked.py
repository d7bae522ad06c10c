"""Tell a site's refusal from an empty or changed page: challenge and captcha pages.

A 403, 429 or 503 whose body is a bot challenge, or a page that holds a captcha where
the listing should be, means the site blocked us: an operator must hear "blocked by the
site", never that the layout changed. feedsvc stays a polite client: it reports the block
and does not try to get around it.
"""

from __future__ import annotations

import re

BLOCKING_STATUSES = frozenset({403, 429, 503})
SNIFF_BYTES = 200_000  # challenge pages are small; the marker is near the top

# What the common bot walls put in their pages, each with the name an operator knows.
MARKERS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("a Cloudflare challenge", re.compile(rb"challenge-platform|cf[-_]chl|cf-turnstile")),
    ("a Cloudflare challenge", re.compile(rb"<title>\s*(just a moment|attention required)", re.I)),
    ("a DataDome captcha", re.compile(rb"captcha-delivery\.com|datadome", re.I)),
    ("a PerimeterX captcha", re.compile(rb"px-captcha|_pxCaptcha|perimeterx", re.I)),
    ("an Imperva (Incapsula) challenge", re.compile(rb"_Incapsula_Resource|Incapsula incident")),
    ("an AWS WAF challenge", re.compile(rb"awswaf|aws-waf-token|AwsWafIntegration")),
    ("a Sucuri firewall page", re.compile(rb"Sucuri WebSite Firewall|sucuri\.net/cloudproxy")),
    ("an Akamai denial", re.compile(rb"<title>\s*Access Denied\s*</title>.*?Reference\s*#", re.S)),
    ("an hCaptcha", re.compile(rb"hcaptcha\.com/1/api|class=[\"']h-captcha")),
    ("a reCAPTCHA", re.compile(rb"google\.com/recaptcha|class=[\"']g-recaptcha")),
    ("a captcha", re.compile(rb"<(form|div)[^>]+(id|class)=[\"'][^\"']*captcha", re.I)),
)


def wall(body: bytes) -> str | None:
    """What kind of challenge or captcha page `body` is, or None when it is neither."""
    head = body[:SNIFF_BYTES]
    return next((name for name, marker in MARKERS if marker.search(head)), None)


def blocked_reason(status: int, body: bytes, url: str) -> str | None:
    """'blocked by the site: ...' for a refusal status with a challenge page, else None."""
    if status not in BLOCKING_STATUSES:
        return None
    found = wall(body)
    return f"blocked by the site: HTTP {status} with {found} at {url}" if found else None
