"""
Cron schedules: parse an expression for an agent and compute its fire times.

Interface used by config validation and the scheduler:

- ``CronSchedule.parse(expression, timezone="UTC", hash_key="")`` returns a
  schedule or raises ``CronError`` (a ``ValueError``) whose message says what
  is wrong in words a person can act on.
- ``schedule.next_after(t)`` returns the first fire time strictly after the
  POSIX timestamp ``t``, as a POSIX timestamp.

An expression has five fields (minute, hour, day-of-month, month, day-of-week)
in the syntax of the ``cronsim`` library, or is one of the aliases
``@hourly``, ``@daily``, ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``
and ``@annually``. On top of that, a term of any field may be a Jenkins-style
``H`` term, which stands for a value derived from the schedule's hash key, so
that agents sharing an expression spread out instead of all firing together:

- ``H``: one value in the field's range (day-of-month uses 1-28, so that the
  value exists in every month; day-of-week uses 0-6);
- ``H/n``: every ``n``-th value, starting at a hashed offset in ``[0, n)``;
- ``H(a-b)``: one value in ``a``-``b``;
- ``H(a-b)/n``: every ``n``-th value in ``a``-``b``, starting at ``a`` plus a
  hashed offset in ``[0, n)``.

The value comes from SHA-256 of the hash key and the field's position, so it
is the same in every process and after every restart, and the fields of one
agent get independent values.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen
from cronsim import CronSim, CronSimError


class CronError(ValueError):
    """
    A cron expression or timezone that cannot be used.
    """


@frozen
class _Field:
    """
    One of the five fields of a cron expression.

    :ivar name: The name used in error messages.
    :ivar low: The smallest number the field accepts.
    :ivar high: The largest number the field accepts.
    :ivar hash_high: The largest value a bare ``H`` or ``H/n`` may pick.
    :ivar names: The symbolic names the field accepts besides numbers, for
        error messages.
    """

    name: str
    low: int
    high: int
    hash_high: int
    names: str = ""


_FIELDS = (
    _Field("minute", 0, 59, 59),
    _Field("hour", 0, 23, 23),
    _Field("day-of-month", 1, 31, 28),
    _Field("month", 1, 12, 12, ", JAN-DEC"),
    _Field("day-of-week", 0, 7, 6, ", SUN-SAT (0 and 7 are Sunday)"),
)

_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_H_TERM = re.compile(r"H(?:\((\d+)-(\d+)\))?(?:/(\d+))?")

# Any fixed moment will do: cronsim needs a start time to validate a field.
_PROBE_START = datetime(2000, 1, 1)


@frozen
class CronSchedule:
    """
    A parsed cron expression bound to a timezone.

    Fire times are computed by ``cronsim`` on the expanded expression, which
    handles daylight saving time like Debian cron:

    - If both the minute and the hour field are fixed (neither starts with
      ``*``, as in ``30 2 * * *`` or ``H H * * *``), the schedule follows the
      local wall clock and fires once per matching local time. A time skipped
      by spring-forward fires at the first valid minute after it (02:30 fires
      at 03:00); a time repeated by fall-back fires only at its first
      occurrence.
    - Otherwise (``0 * * * *``, ``*/15 * * * *``, ``H * * * *``) the schedule
      steps through real time and fires at every matching instant: an hourly
      job fires 25 times on the fall-back day, at 01:00 in daylight time and
      again at 01:00 in standard time, and 23 times on the spring-forward day.

    :ivar expression: The expression as written.
    :ivar expanded: The five-field expression given to ``cronsim``, with
        aliases and ``H`` terms replaced.
    :ivar timezone: The IANA name of the timezone.
    :ivar zone: The timezone.
    """

    expression: str
    expanded: str
    timezone: str
    zone: ZoneInfo

    @classmethod
    def parse(
        cls, expression: str, timezone: str = "UTC", hash_key: str = ""
    ) -> CronSchedule:
        """
        Parse ``expression`` for ``timezone``.

        :param expression: Five cron fields, or an alias such as ``@daily``.
        :param timezone: The IANA name of the timezone the fields are read in.
        :param hash_key: The text ``H`` terms are derived from, normally the
            agent's name.
        :returns: The schedule.
        :raises CronError: if the expression or the timezone is invalid.
        """
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise CronError(
                f"unknown timezone {timezone!r}: use an IANA name such as "
                f"'Europe/Berlin', 'America/New_York' or 'UTC'"
            ) from None
        expanded = _expand(expression, hash_key)
        try:
            CronSim(expanded, _PROBE_START)
        except CronSimError as e:
            raise CronError(
                f"invalid cron expression {expression!r}: its fields are each "
                f"valid but together never match a date ({e})"
            ) from None
        return cls(expression, expanded, timezone, zone)

    def next_after(self, t: float) -> float:
        """
        Compute the first fire time strictly after ``t``.

        :param t: A POSIX timestamp.
        :returns: A POSIX timestamp greater than ``t``.
        """
        fires = CronSim(self.expanded, datetime.fromtimestamp(t, self.zone))
        fire = next(fires).timestamp()
        # On the wall clock the repeated hour of fall-back happens once, so
        # from inside its second pass cronsim yields the first pass again.
        while fire <= t:
            fire = next(fires).timestamp()
        return fire


def _expand(expression: str, hash_key: str) -> str:
    """
    Replace an alias or the ``H`` terms of ``expression``.

    :param expression: The expression as written.
    :param hash_key: The text ``H`` terms are derived from.
    :returns: A five-field expression without ``H`` terms.
    :raises CronError: if the expression is an unsupported alias, has the
        wrong number of fields, or has a field ``cronsim`` rejects.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise CronError(
                "@reboot is not supported: a schedule fires at clock times; "
                "use a time-based schedule such as '@hourly' or '0 9 * * *'"
            )
        try:
            return _ALIASES[text.lower()]
        except KeyError:
            raise CronError(
                f"unknown cron alias {text!r}: use one of {', '.join(_ALIASES)}"
            ) from None

    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise CronError(
            f"invalid cron expression {expression!r}: it has {len(parts)} "
            f"fields, expected 5 (minute hour day-of-month month day-of-week)"
        )
    return " ".join(
        _expand_field(expression, position, part, hash_key)
        for position, part in enumerate(parts)
    )


def _expand_field(expression: str, position: int, text: str, hash_key: str) -> str:
    """
    Replace the ``H`` terms of one field and check the result with ``cronsim``.

    :param expression: The whole expression, for error messages.
    :param position: The index of the field, 0 for minute to 4 for day-of-week.
    :param text: The field as written.
    :param hash_key: The text ``H`` terms are derived from.
    :returns: The field without ``H`` terms.
    :raises CronError: if a term is invalid.
    """
    field = _FIELDS[position]
    digest = hashlib.sha256(f"{hash_key}\x00{position}".encode()).digest()
    hashed = int.from_bytes(digest, "big")
    expanded = ",".join(
        _expand_h_term(expression, field, term, hashed) if term[:1] == "H" else term
        for term in text.split(",")
    )

    probe = ["*"] * len(_FIELDS)
    probe[position] = expanded
    try:
        CronSim(" ".join(probe), _PROBE_START)
    except CronSimError:
        raise CronError(
            f"invalid cron expression {expression!r}: the {field.name} field "
            f"{text!r} is not valid; it takes numbers {field.low}-{field.high}"
            f"{field.names}, '*', lists 'a,b', ranges 'a-b', steps '/n' and "
            f"'H' terms"
        ) from None
    return expanded


def _expand_h_term(expression: str, field: _Field, term: str, hashed: int) -> str:
    """
    Replace one ``H`` term by plain cron syntax.

    :param expression: The whole expression, for error messages.
    :param field: The field the term is in.
    :param term: The term, starting with ``H``.
    :param hashed: The field's hash value.
    :returns: A single value, or a stepped range ``start-end/n``.
    :raises CronError: if the term is malformed, its range is out of the
        field's bounds or empty, or its step does not fit in the range.
    """
    where = (
        f"invalid cron expression {expression!r}: {term!r} in the {field.name} field"
    )
    match = _H_TERM.fullmatch(term)
    if match is None:
        raise CronError(f"{where} is not valid; write H, H/n, H(a-b) or H(a-b)/n")

    low_text, high_text, step_text = match.groups()
    low, high = field.low, field.hash_high
    if low_text is not None:
        low, high = int(low_text), int(high_text)
        if low < field.low or high > field.high:
            raise CronError(
                f"{where} is out of range: use values in {field.low}-{field.high}"
            )
        if low > high:
            raise CronError(f"{where} has a range that starts after it ends")

    if step_text is None:
        return str(low + hashed % (high - low + 1))
    step = int(step_text)
    if not 1 <= step <= high - low + 1:
        raise CronError(
            f"{where} has a step of {step}: use a step from 1 to {high - low + 1}, "
            f"the size of the range {low}-{high}"
        )
    return f"{low + hashed % step}-{high}/{step}"
