"""
Errors raised by the store.
"""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """
    An operation was submitted to a database that is not open: it was never
    started, has not finished starting, or is closing or closed.
    """


class SchemaTooNew(Exception):
    """
    The database file was written by a newer action-llama: its schema version
    is higher than any migration this version knows.
    """


class NoSuchRecord(LookupError):
    """
    An update named a run, trigger, work item or call that is not stored (or,
    for a work item, is not in the state the update needs).
    """
