"""One real page's outcome under `make bench-discover`, and the section of docs/benchmarks.md
that lists them: one row per page, a total."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

BEGIN = (
    "<!-- bench-discover:begin: `make bench-discover` rewrites everything from here to "
    "bench-discover:end -->"
)
END = "<!-- bench-discover:end -->"

USABLE = 0.9  # recall and precision both at least this, and the first ingest accepted


@dataclass
class Outcome:
    """One page's result."""

    name: str
    proposed: bool = False
    item: str = ""
    labelled: int = 0
    found: int = 0
    hits: int = 0
    extra: int = 0
    titles: int = 0
    dated: int = 0
    right: int = 0
    wrong: int = 0
    missing: int = 0
    ingested: bool = False
    counts: tuple[int, int, int] = (0, 0, 0)  # discover's preview, preview, first ingest
    survives: bool | None = None  # same items after one added at the top, one removed below
    tracebacks: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def recall(self) -> float:
        return self.hits / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return (self.found - self.extra) / self.found if self.found else 0.0

    @property
    def usable(self) -> bool:
        return (
            self.ingested
            and self.recall >= USABLE
            and self.precision >= USABLE
            and not self.tracebacks
        )


def section(outcomes: list[Outcome], seconds: float, when: datetime) -> str:
    """The table: per page a block or not, recall, precision, titles, dates, counts, crashes."""
    lines = [
        BEGIN,
        "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC in {seconds:.0f} s on {len(outcomes)} pages "
        "(`make bench-discover`).",
        "",
        "| Page | Block | Recall | Precision | Titles exact | Dates right / wrong / missing "
        "| discover = preview = ingest | Survives | Usable | Traceback |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {'yes' if o.proposed else 'no'} | {o.recall:.0%} | {o.precision:.0%} "
            f"| {o.titles} of {o.hits} | {o.right} / {o.wrong} / {o.missing} of {o.dated} "
            f"| {' / '.join(map(str, o.counts))} | {'yes' if o.survives else 'no'} "
            f"| {'yes' if o.usable else 'no'} "
            f"| {o.tracebacks[0] if o.tracebacks else ''} |"
        )
    dated = sum(o.dated for o in outcomes)
    right = sum(o.right for o in outcomes)
    lines += [
        "",
        f"Total: a block on {sum(o.proposed for o in outcomes)} of {len(outcomes)} pages; usable "
        f"(recall and precision ≥ 90 %, first ingest accepted) on "
        f"{sum(o.usable for o in outcomes)}; selectors that pick the same items after one is "
        f"added at the top and one removed at the bottom on "
        f"{sum(bool(o.survives) for o in outcomes)}"
        f"; one truth (discover's count = preview = first ingest) on "
        f"{sum(len(set(o.counts)) == 1 and o.counts[0] > 0 for o in outcomes)}; tracebacks on "
        f"{sum(bool(o.tracebacks) for o in outcomes)}; titles exact "
        f"{sum(o.titles for o in outcomes)} of {sum(o.hits for o in outcomes)} items found; dates "
        f"right {right}, wrong {sum(o.wrong for o in outcomes)}, missing "
        f"{sum(o.missing for o in outcomes)} of {dated} dated items found"
        + (f" ({right / dated:.0%} read right)" if dated else "")
        + ".",
        "",
        END,
    ]
    return "\n".join(lines)


def write_section(doc: Path, outcomes: list[Outcome], seconds: float, when: datetime) -> None:
    """Replace the section between the markers (appended under its heading when missing)."""
    text = doc.read_text(encoding="utf-8")
    new = section(outcomes, seconds, when)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + new + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Discover on real pages\n\n" + new + "\n"
    doc.write_text(text, encoding="utf-8")
