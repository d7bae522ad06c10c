"""Values taken from the environment (`"${NAME}"` in a source's headers or `[ingest] proxy`).

Such values are secrets (a session cookie, a proxy password): the config keeps them, and
`redact` puts the `${NAME}` back wherever one could be shown (errors, logs, /status).
"""

from __future__ import annotations

import os
import re
import threading

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_lock = threading.Lock()
_secrets: dict[str, str] = {}  # value taken from the environment -> "${NAME}"


class MissingVariable(Exception):
    """A `${NAME}` whose variable is not set; the config error names the key and NAME."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def expand(value: str) -> str:
    """`value` with each `${NAME}` replaced by that environment variable, which must be set;
    the values taken are remembered so that `redact` can hide them again."""

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        taken = os.environ.get(name)
        if taken is None:
            raise MissingVariable(name)
        if taken:
            with _lock:
                _secrets[taken] = match.group(0)
        return taken

    return REFERENCE.sub(variable, value)


def redact(text: str) -> str:
    """`text` with every value taken from the environment shown as its `${NAME}` again."""
    with _lock:
        secrets = sorted(_secrets.items(), key=lambda pair: -len(pair[0]))
    for value, reference in secrets:
        text = text.replace(value, reference)
    return text
