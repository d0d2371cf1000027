"""
Typed reads from one table of a config file.

Each read checks the type and range of one field, reports a problem to the
`IssueLog` (naming the file and the dotted field) and falls back to a default,
so that one pass finds every problem.  A `Table` remembers which keys were
read; `Table.finish` then reports the others as unknown fields.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ._issues import IssueLog

_D = TypeVar("_D")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def describe(value: object) -> str:
    """
    Show a value roughly as it is written in the file, for a message.

    :param value: a value read from TOML or YAML.
    :returns: a short rendering, such as ``"two"``, ``true`` or ``a table``.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def join_field(prefix: str, key: str) -> str:
    """
    Append ``key`` to a dotted field name, quoting it when TOML would.

    :param prefix: the field name so far; empty at the top of a file.
    :param key: the key to append.
    """
    shown = key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    return f"{prefix}.{shown}" if prefix else shown


def one_of(choices: Collection[str]) -> str:
    """
    Phrase a set of allowed values for a message.

    :param choices: the allowed values.
    """
    return "one of: " + ", ".join(sorted(choices))


class Table:
    """
    One table of a config file, read field by field.

    :ivar file: the file the table comes from.
    :ivar prefix: the dotted name of the table; empty for the top level.
    """

    def __init__(
        self, log: IssueLog, file: Path, data: Mapping[str, Any], prefix: str = ""
    ) -> None:
        """
        :param log: where problems go.
        :param file: the file the table comes from.
        :param data: the parsed table.
        :param prefix: the dotted name of the table.
        """
        self._log = log
        self.file = file
        self.prefix = prefix
        self._data = data
        self._read: set[str] = set()

    def field(self, key: str, index: int | None = None) -> str:
        """
        The dotted name of a field of this table.

        :param key: the key in this table.
        :param index: an index into the list held by ``key``.
        """
        name = join_field(self.prefix, key)
        return name if index is None else f"{name}[{index}]"

    def error(self, key: str, message: str, index: int | None = None) -> None:
        """
        Report an error in one field of this table.

        :param key: the key in this table.
        :param message: what is wrong and what was expected.
        :param index: an index into the list held by ``key``.
        """
        self._log.error(self.file, self.field(key, index), message)

    def warn(self, key: str, message: str) -> None:
        """
        Report a warning about one field of this table.

        :param key: the key in this table.
        :param message: what is wrong and what was expected.
        """
        self._log.warn(self.file, self.field(key), message)

    def raw(self, key: str) -> Any:
        """
        The value of ``key`` as parsed, marking the key as known.

        :param key: the key in this table.
        :returns: the value, or ``None`` when the key is absent.
        """
        self._read.add(key)
        return self._data.get(key)

    def names(self) -> list[str]:
        """
        Every key present, in file order.
        """
        return list(self._data)

    def has(self, key: str) -> bool:
        """
        Whether ``key`` is present, with any value.

        :param key: the key in this table.
        """
        return self._data.get(key) is not None

    def integer(
        self, key: str, default: _D, *, minimum: int, maximum: int | None = None
    ) -> int | _D:
        """
        Read a whole number within bounds.

        :param key: the key in this table.
        :param default: the result when the key is absent or invalid.
        :param minimum: the smallest value allowed.
        :param maximum: the largest value allowed, if any.
        """
        value = self.raw(key)
        if value is None:
            return default
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value >= minimum
            and (maximum is None or value <= maximum)
        ):
            return value
        if maximum is None:
            expected = f"a whole number ≥ {minimum}"
        else:
            expected = f"a whole number from {minimum} to {maximum}"
        self.error(key, f"got {describe(value)} (expected {expected})")
        return default

    def number(
        self, key: str, default: _D, *, valid: Callable[[float], bool], expected: str
    ) -> float | _D:
        """
        Read a number, whole or not.

        :param key: the key in this table.
        :param default: the result when the key is absent or invalid.
        :param valid: whether a number is within bounds.
        :param expected: what a valid value looks like, for messages.
        """
        value = self.raw(key)
        if value is None:
            return default
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and valid(value)
        ):
            return value
        self.error(key, f"got {describe(value)} (expected {expected})")
        return default

    def boolean(self, key: str, default: bool) -> bool:
        """
        Read ``true`` or ``false``.

        :param key: the key in this table.
        :param default: the result when the key is absent or invalid.
        """
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(key, f"got {describe(value)} (expected true or false)")
        return default

    def string(
        self,
        key: str,
        default: _D,
        *,
        choices: Collection[str] = (),
        pattern: re.Pattern[str] | None = None,
        expected: str = "a string",
        required: bool = False,
    ) -> str | _D:
        """
        Read a string, optionally one of a set or matching a pattern.

        :param key: the key in this table.
        :param default: the result when the key is absent or invalid.
        :param choices: the allowed values; any string when empty.
        :param pattern: a pattern the whole value must match.
        :param expected: what a valid value looks like, for messages; the
            list of ``choices`` is used when they are given.
        :param required: report an error when the key is absent.
        """
        if choices:
            expected = one_of(choices)
        value = self.raw(key)
        if value is None:
            if required:
                self.error(key, f"missing (expected {expected})")
            return default
        if (
            isinstance(value, str)
            and (not choices or value in choices)
            and (pattern is None or pattern.fullmatch(value))
        ):
            return value
        self.error(key, f"got {describe(value)} (expected {expected})")
        return default

    def strings(
        self, key: str, check: Callable[[str], str | None] | None = None
    ) -> tuple[str, ...]:
        """
        Read a list of strings.

        :param key: the key in this table.
        :param check: returns what is wrong with one string, or ``None``.
        :returns: the strings; an empty tuple when absent or not a list.
        """
        value = self.raw(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            expected = f'a list of strings, such as {key} = ["..."]'
            self.error(key, f"got {describe(value)} (expected {expected})")
            return ()
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                message = f"got {describe(item)} (expected a string)"
                self.error(key, message, index)
                continue
            problem = None if check is None else check(item)
            if problem is not None:
                self.error(key, problem, index)
            result.append(item)
        return tuple(result)

    def string_or_strings(self, key: str) -> tuple[str, ...] | None:
        """
        Read a string or a list of strings; a string becomes a 1-tuple.

        :param key: the key in this table.
        :returns: the strings, or ``None`` when absent or invalid.
        """
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        expected = "a string or a list of strings"
        self.error(key, f"got {describe(value)} (expected {expected})")
        return None

    def mapping(self, key: str) -> dict[str, Any]:
        """
        Read a table with any content, unchecked.

        :param key: the key in this table.
        :returns: the table; empty when absent or invalid.
        """
        value = self.raw(key)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        message = f"got {describe(value)} (expected a table, written [{key}])"
        self.error(key, message)
        return {}

    def table(self, key: str) -> Table:
        """
        Read a sub-table, to be read field by field in turn.

        :param key: the key in this table.
        :returns: the sub-table; empty when absent or invalid.
        """
        return Table(self._log, self.file, self.mapping(key), self.field(key))

    def tables(self, key: str) -> list[Table]:
        """
        Read an array of tables, written ``[[key]]``.

        :param key: the key in this table.
        :returns: the tables that are tables; invalid entries are reported.
        """
        value = self.raw(key)
        if value is None:
            return []
        expected = f"an array of tables, written [[{key}]]"
        if not isinstance(value, list):
            self.error(key, f"got {describe(value)} (expected {expected})")
            return []
        result = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                name = self.field(key, index)
                result.append(Table(self._log, self.file, item, name))
            else:
                message = f"got {describe(item)} (expected a table in {expected})"
                self.error(key, message, index)
        return result

    def children(self, kind: str) -> list[tuple[str, Table]]:
        """
        Read every key of a table whose keys are names chosen by the user,
        such as ``[models.<name>]``, each holding a table.

        :param kind: what each child is, for messages, such as ``model``.
        :returns: the name and table of each child that is a table.
        """
        result = []
        for name in self._data:
            value = self.raw(name)
            if isinstance(value, dict):
                result.append(
                    (name, Table(self._log, self.file, value, self.field(name)))
                )
            else:
                header = f"[{self.field(name)}]"
                message = (
                    f"got {describe(value)} (expected a {kind} table, written {header})"
                )
                self.error(name, message)
        return result

    def finish(self) -> None:
        """
        Report every key that no read asked for as an unknown field.
        """
        for key in self._data:
            if key in self._read:
                continue
            close = difflib.get_close_matches(key, self._read, n=1)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif self._read:
                hint = f"expected {one_of(self._read)}"
            else:
                hint = "expected no fields here"
            self.warn(key, f"unknown field, ignored ({hint})")
