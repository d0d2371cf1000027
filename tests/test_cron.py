"""
Tests for ``action_llama.cron``: parsing, hashed ``H`` fields, aliases and fire
times across daylight saving time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from action_llama.cron import CronError, CronSchedule

NEW_YORK = ZoneInfo("America/New_York")
AGENTS = [f"agent-{i:03d}" for i in range(100)]


def fires_between(
    schedule: CronSchedule, start: datetime, end: datetime
) -> list[datetime]:
    """
    Collect the fire times of ``schedule`` in ``[start, end)`` by chaining
    ``next_after``, as the scheduler does.

    :param schedule: The schedule to run.
    :param start: An aware datetime; a fire exactly at ``start`` is not counted.
    :param end: An aware datetime.
    :returns: The fire times, as datetimes in the schedule's timezone.
    """
    fires = []
    t = schedule.next_after(start.timestamp())
    while t < end.timestamp():
        fires.append(datetime.fromtimestamp(t, schedule.zone))
        t = schedule.next_after(t)
    return fires


def hashed_minutes(expression: str) -> list[int]:
    """
    Find the minute each of the 100 agents' ``expression`` first fires at.

    :param expression: An expression whose minute field is hashed.
    :returns: One minute per agent, in the order of ``AGENTS``.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    return [
        datetime.fromtimestamp(
            CronSchedule.parse(expression, hash_key=agent).next_after(start),
            UTC,
        ).minute
        for agent in AGENTS
    ]


def test_daily_job_fires_once_per_local_day_for_two_years() -> None:
    """
    A daily 02:30 job in New York fires exactly once on every local day of 2026
    and 2027, at 03:00 on the spring-forward days when 02:30 does not exist.
    """
    schedule = CronSchedule.parse("30 2 * * *", "America/New_York")
    start = datetime(2026, 1, 1, tzinfo=NEW_YORK)
    end = datetime(2028, 1, 1, tzinfo=NEW_YORK)

    fires = fires_between(schedule, start, end)

    per_day = Counter(fire.date() for fire in fires)
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(730)]
    assert per_day == Counter(days)
    spring_forward = {date(2026, 3, 8), date(2027, 3, 14)}
    for fire in fires:
        expected = (3, 0) if fire.date() in spring_forward else (2, 30)
        assert (fire.hour, fire.minute) == expected


def test_fall_back_repeated_time_fires_once() -> None:
    """
    A daily 01:30 job fires once on the fall-back day, at the first 01:30, even
    when asked from inside the repeated hour.
    """
    schedule = CronSchedule.parse("30 1 * * *", "America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    second_pass = datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=NEW_YORK)
    next_day = datetime(2026, 11, 2, 1, 30, tzinfo=NEW_YORK)

    fires = fires_between(schedule, datetime(2026, 11, 1, tzinfo=NEW_YORK), next_day)

    assert [fire.timestamp() for fire in fires] == [first.timestamp()]
    assert first.utcoffset() == timedelta(hours=-4)
    assert schedule.next_after(second_pass.timestamp()) == next_day.timestamp()


@pytest.mark.parametrize(
    "day, count", [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25)]
)
def test_hourly_job_fires_every_real_hour_across_dst(day: date, count: int) -> None:
    """
    An hourly job fires once per real hour, so 23 times on the spring-forward
    day and 25 times on the fall-back day.
    """
    schedule = CronSchedule.parse("0 * * * *", "America/New_York")
    start = datetime.combine(day, datetime.min.time(), NEW_YORK)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), NEW_YORK)

    fires = fires_between(schedule, start - timedelta(seconds=1), end)

    stamps = [fire.timestamp() for fire in fires]
    assert len(stamps) == count
    assert stamps[0] == start.timestamp()
    assert {b - a for a, b in pairwise(stamps)} == {3600.0}


def test_hashed_minutes_are_stable_across_processes() -> None:
    """
    ``H`` picks the same minutes in a fresh Python process with another hash
    seed, so schedules survive restarts.
    """
    script = (
        "import json, sys\n"
        "from action_llama.cron import CronSchedule\n"
        "agents = [f'agent-{i:03d}' for i in range(100)]\n"
        "json.dump([CronSchedule.parse('H H * * *', hash_key=a).expanded "
        "for a in agents], sys.stdout)\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )

    here = [CronSchedule.parse("H H * * *", hash_key=a).expanded for a in AGENTS]
    assert json.loads(result.stdout) == here


def test_hashed_minutes_spread_across_the_hour() -> None:
    """
    ``H * * * *`` for 100 agents puts no more than 5 of them in any one minute.
    """
    per_minute = Counter(hashed_minutes("H * * * *"))

    assert max(per_minute.values()) <= 5


def test_hashed_fields_get_independent_values() -> None:
    """
    Two ``H`` fields over the same range do not get the same value for every
    agent, because the hash includes the field's position.
    """
    pairs = [
        CronSchedule.parse("H(0-23) H * * *", hash_key=agent).expanded.split()[:2]
        for agent in AGENTS
    ]

    assert any(minute != hour for minute, hour in pairs)


@pytest.mark.parametrize(
    "expression, position, low, high",
    [
        ("H * * * *", 0, 0, 59),
        ("0 H * * *", 1, 0, 23),
        ("0 0 H * *", 2, 1, 28),
        ("0 0 1 H *", 3, 1, 12),
        ("0 0 * * H", 4, 0, 6),
        ("0 H(9-17) * * *", 1, 9, 17),
    ],
)
def test_hashed_value_stays_in_range(
    expression: str, position: int, low: int, high: int
) -> None:
    """
    ``H`` and ``H(a-b)`` pick one value inside the range, and different agents
    get different values.
    """
    values = {
        int(CronSchedule.parse(expression, hash_key=agent).expanded.split()[position])
        for agent in AGENTS
    }

    assert min(values) >= low
    assert max(values) <= high
    assert len(values) > 1


@pytest.mark.parametrize(
    "expression, step, low, high",
    [("H/15 * * * *", 15, 0, 59), ("H(10-40)/10 * * * *", 10, 10, 40)],
)
def test_hashed_step_starts_at_offset(
    expression: str, step: int, low: int, high: int
) -> None:
    """
    ``H/n`` and ``H(a-b)/n`` fire every ``n`` minutes from a hashed offset below
    ``n`` until the end of the range.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC)
    offsets = set()
    for agent in AGENTS:
        schedule = CronSchedule.parse(expression, hash_key=agent)
        fires = fires_between(
            schedule, start - timedelta(seconds=1), start + timedelta(hours=1)
        )
        minutes = [fire.minute for fire in fires]
        offsets.add(minutes[0] - low)
        assert 0 <= minutes[0] - low < step
        assert minutes[-1] + step > high >= minutes[-1]
        assert {b - a for a, b in pairwise(minutes)} == {step}

    assert len(offsets) > 1


@pytest.mark.parametrize(
    "alias, expanded",
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ],
)
def test_alias_fires_like_its_expression(alias: str, expanded: str) -> None:
    """
    An alias keeps its text as the expression and fires like the five fields it
    stands for.
    """
    schedule = CronSchedule.parse(alias, "Europe/Berlin")
    plain = CronSchedule.parse(expanded, "Europe/Berlin")
    t = datetime(2026, 5, 17, 12, 34, tzinfo=UTC).timestamp()

    assert (schedule.expression, schedule.expanded) == (alias, expanded)
    assert schedule.next_after(t) == plain.next_after(t)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("@reboot", "@reboot is not supported"),
        ("@fortnightly", "unknown cron alias '@fortnightly': use one of @hourly"),
        ("* * * *", "it has 4 fields, expected 5"),
        ("0 0 * * * *", "it has 6 fields, expected 5"),
        ("", "it has 0 fields, expected 5"),
        ("61 * * * *", "the minute field '61' is not valid; it takes numbers 0-59"),
        ("0 24 * * *", "the hour field '24' is not valid; it takes numbers 0-23"),
        ("0 0 1 13 *", "the month field '13' is not valid"),
        ("0 0 * * MOON", "the day-of-week field 'MOON' is not valid"),
        ("0 0 30 2 *", "together never match a date"),
        ("H(5-1) * * * *", "'H(5-1)' in the minute field has a range that starts"),
        ("0 H(0-24) * * *", "'H(0-24)' in the hour field is out of range"),
        ("H/0 * * * *", "has a step of 0: use a step from 1 to 60"),
        ("H(0-9)/11 * * * *", "has a step of 11: use a step from 1 to 10"),
        ("H5 * * * *", "'H5' in the minute field is not valid; write H, H/n"),
    ],
)
def test_invalid_expression_is_explained(expression: str, message: str) -> None:
    """
    An expression that cannot be used raises a ``CronError`` saying what to fix.
    """
    with pytest.raises(CronError, match=re.escape(message)):
        CronSchedule.parse(expression, hash_key="agent-000")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America", ""])
def test_unknown_timezone_is_explained(name: str) -> None:
    """
    A timezone that is not an IANA zone name raises a ``CronError`` naming it.
    """
    with pytest.raises(CronError, match=f"unknown timezone {name!r}: use an IANA"):
        CronSchedule.parse("0 * * * *", name)


@pytest.mark.parametrize(
    "t, expected",
    [(0.0, 3600.0), (-0.5, 0.0), (3599.999, 3600.0), (1800.0, 3600.0)],
)
def test_next_after_is_strictly_after(t: float, expected: float) -> None:
    """
    ``next_after`` returns the first fire time strictly after ``t``, never ``t``
    itself.
    """
    schedule = CronSchedule.parse("0 * * * *")

    assert schedule.next_after(t) == expected
