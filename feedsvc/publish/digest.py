"""Weekly digests: a topic's items grouped by closed week, one entry per week. Pure.

Weeks are ISO weeks, Monday 00:00 to the next Monday 00:00 in the time zone of
the topic's first source (the zone its page dates are read in), so an item
dated Monday on the page is in Monday's week. A week is closed once its end has
passed; only closed weeks with items get an entry, dated at the week's end,
with an id made of the ISO week ("2023-W37") that never changes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from feedsvc.model import StoredItem
from feedsvc.publish.render import entry_html

DIGEST_TYPE = ("weekly-digest", "Weekly digest")


@dataclass
class Week:
    """One week's items, newest first; `start` is Monday 00:00 in the topic's zone."""

    start: datetime
    items: list[StoredItem] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in the same zone: when the week closes."""
        return datetime.combine(self.start.date() + timedelta(days=7), time(), self.start.tzinfo)

    @property
    def label(self) -> str:
        """The ISO week, e.g. "2023-W37": the stable part of the entry's id."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


def week_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """Monday 00:00, in `zone`, of the week that holds `moment`."""
    local = moment.astimezone(zone)
    return datetime.combine(local.date() - timedelta(days=local.weekday()), time(), tzinfo=zone)


def closed_weeks(batches: Iterable[Sequence[StoredItem]], zone: ZoneInfo, limit: int) -> list[Week]:
    """The newest `limit` weeks that have items, from batches of items newest first.

    The caller passes only items older than the current week; batches are read
    only until a week beyond the limit shows up.
    """
    weeks: list[Week] = []
    for batch in batches:
        for item in batch:
            start = week_start(item.published, zone)
            if not weeks or weeks[-1].start != start:
                if len(weeks) == limit:
                    return weeks
                weeks.append(Week(start))
            weeks[-1].items.append(item)
    return weeks


def week_entry(
    week: Week, digest_id: str, topic: str, topic_title: str, home_url: str
) -> StoredItem:
    """The digest entry of one week: every item with its image, summary and link."""
    count = f"{len(week.items)} item" + ("s" if len(week.items) != 1 else "")
    pictured = next((item for item in week.items if item.image_url), None)
    titles = "; ".join(item.title for item in week.items)
    updated = max([week.end, *(max(item.first_seen, item.updated) for item in week.items)])
    content = [f"<p>{count} on {html.escape(topic_title)} in the week of {_day(week.start)}:</p>"]
    content += [f"<div>{entry_html(item)}</div>" for item in week.items]
    return StoredItem(
        guid=f"{digest_id}/{week.label}",
        link=home_url,
        title=f"{topic_title}: week of {_day(week.start)} ({count})",
        summary_html=html.escape(f"{count}: {titles}"),
        summary_text=f"{count}: {titles}",
        type_slug=DIGEST_TYPE[0],
        type_label=DIGEST_TYPE[1],
        image_url=pictured.image_url if pictured else None,
        image_caption=pictured.image_caption if pictured else None,
        image_credit=pictured.image_credit if pictured else None,
        image_length=pictured.image_length if pictured else None,
        image_type=pictured.image_type if pictured else None,
        author=None,
        published=week.end.astimezone(UTC),
        updated=updated.astimezone(UTC),
        first_seen=updated.astimezone(UTC),
        order_key=week.label,
        topics=(topic,),
        content_html="<hr>".join(content),
    )


def _day(moment: datetime) -> str:
    """A date as people write it in titles, "11 September 2023", on any platform."""
    return f"{moment.day} {moment:%B %Y}"
