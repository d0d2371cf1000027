"""
Cron schedules: parse an expression for an agent and compute its fire times.

Interface used by config validation and the scheduler:

- ``CronSchedule.parse(expression, timezone="UTC", hash_key="")`` returns a
  schedule or raises ``CronError`` (a ``ValueError``) whose message says what
  is wrong in words a person can act on.
- ``schedule.next_after(t)`` returns the first fire time strictly after the
  POSIX timestamp ``t``, as a POSIX timestamp.
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen
from cronsim import CronSim, CronSimError


class CronError(ValueError):
    """
    A cron expression or timezone that cannot be used.
    """


@frozen
class CronSchedule:
    """
    A parsed cron expression bound to a timezone.
    """

    expression: str
    timezone: str
    zone: ZoneInfo

    @classmethod
    def parse(
        cls, expression: str, timezone: str = "UTC", hash_key: str = ""
    ) -> CronSchedule:
        """
        Parse ``expression`` for ``timezone``.

        :raises CronError: if the expression or the timezone is invalid.
        """
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"unknown timezone {timezone!r}") from None
        try:
            CronSim(expression, datetime.now(zone))
        except CronSimError as e:
            raise CronError(f"invalid cron expression {expression!r}: {e}") from None
        return cls(expression, timezone, zone)

    def next_after(self, t: float) -> float:
        """
        The first fire time strictly after the POSIX timestamp ``t``.
        """
        start = datetime.fromtimestamp(t, dt_timezone.utc).astimezone(self.zone)
        return next(CronSim(self.expression, start)).timestamp()
