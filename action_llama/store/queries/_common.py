"""
Helpers shared by the operations.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .._errors import NoSuchRecord


def change_one(
    conn: sqlite3.Connection, sql: str, parameters: tuple[Any, ...], what: str
) -> None:
    """
    Run an ``UPDATE`` or ``DELETE`` that must touch a row.

    :raises NoSuchRecord: naming ``what``, if it touched none.
    """
    if conn.execute(sql, parameters).rowcount == 0:
        raise NoSuchRecord(f"no {what}")
