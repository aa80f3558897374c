"""Five-field cron expressions: validation, a short description and the next run time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_NAMES = {
    3: {
        m: i
        for i, m in enumerate(
            ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
        )
    },
    4: {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
}


class CronError(ValueError):
    """An invalid cron expression; the message names the problem."""


def _value(text: str, index: int) -> int:
    upper = text.upper()
    if upper in _NAMES.get(index, {}):
        return _NAMES[index][upper]
    if not text.isdigit():
        raise CronError(f"invalid value '{text}' in {_FIELDS[index][0]}")
    return int(text)


def _field(text: str, index: int) -> tuple[set[int], bool]:
    """The values a field allows, and whether it was restricted (not ``*``)."""
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(\d+))?", part)
        if not match:
            raise CronError(f"invalid {name} '{part}'")
        base, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"invalid step in {name} '{part}'")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (_value(x, index) for x in base.split("-", 1))
        else:
            start = _value(base, index)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{name} '{part}' is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return values, text != "*"


@lru_cache(maxsize=256)
def parse(expression: str) -> tuple[tuple[set[int], bool], ...]:
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    return tuple(_field(part, i) for i, part in enumerate(parts))


def describe(expression: str) -> str:
    """A short human description in the spirit of cronstrue."""
    minute, hour, dom, month, dow = expression.split()
    if expression.strip() == "* * * * *":
        return "Every minute"
    if re.fullmatch(r"\*/\d+", minute) and (hour, dom, month, dow) == ("*", "*", "*", "*"):
        return f"Every {minute[2:]} minutes"
    if minute.isdigit() and hour == "*" and (dom, month, dow) == ("*", "*", "*"):
        return f"At {minute} minutes past the hour"
    if minute.isdigit() and hour.isdigit():
        at = datetime(2000, 1, 1, int(hour), int(minute)).strftime("%I:%M %p")
        if (dom, month, dow) == ("*", "*", "*"):
            return f"At {at}"
        return f"At {at}, {expression}"
    return f"Cron: {expression}"


def _day_matches(day: date, fields: tuple[tuple[set[int], bool], ...]) -> bool:
    (dom, dom_restricted), (months, _), (dow, dow_restricted) = fields[2], fields[3], fields[4]
    if day.month not in months:
        return False
    dom_ok, dow_ok = day.day in dom, (day.isoweekday() % 7) in dow
    if dom_restricted and dow_restricted:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def next_run(expression: str, timezone: str, after: float) -> float | None:
    """Epoch seconds of the first matching minute strictly after ``after`` (in ``timezone``)."""
    fields = parse(expression)
    zone = ZoneInfo(timezone)
    start = datetime.fromtimestamp(after, UTC).astimezone(zone)
    minutes, hours = sorted(fields[0][0]), sorted(fields[1][0])
    for offset in range(0, 366 * 5):
        day = start.date() + timedelta(days=offset)
        if not _day_matches(day, fields):
            continue
        for hour in hours:
            for minute in minutes:
                local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                if local.timestamp() > after:
                    return local.timestamp()
    return None


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """IANA zone names as ``Intl.supportedValuesOf("timeZone")`` lists them, plus ``UTC``."""
    names = {
        n
        for n in available_timezones()
        if "/" in n
        and not n.startswith(
            ("Etc/", "SystemV/", "posix/", "right/", "US/", "Brazil/", "Canada/", "Mexico/", "Chile/")
        )
    }
    return tuple(sorted(names | {"UTC"}))
