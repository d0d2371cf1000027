"""
The session's log lines, written through the child's JSON-lines protocol.

Every line is masked first: no value of a staged credential, nor the run
secret, reaches the log, whatever the model or a command wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...runtime import Masker

#: Longest message of one line; a longer text is cut into several lines,
#: as hook output is.
MAX_MESSAGE = 8192


class SessionLog:
    """
    Writes masked log lines tagged ``phase: session``.

    :param emit: writes one line: ``emit(level, message, **fields)``.
    :param mask: hides secret values.
    """

    def __init__(self, emit: Callable[..., None], mask: Masker) -> None:
        self._emit = emit
        self.mask = mask

    def __call__(self, level: str, message: str, **fields: Any) -> None:
        """
        Write one line.

        :param level: ``info``, ``warn``, ``error`` or ``debug``.
        :param message: its text.
        :param fields: further fields; string values are masked too.
        """
        masked = {
            name: self.mask(value) if isinstance(value, str) else value
            for name, value in fields.items()
        }
        self._emit(level, self.mask(message), phase="session", **masked)

    def text(self, level: str, text: str, **fields: Any) -> None:
        """
        Write a text of any length: a line per line of text that is not
        blank, each cut to `MAX_MESSAGE` characters.
        """
        for line in self.mask(text).splitlines():
            if line.strip():
                for start in range(0, len(line), MAX_MESSAGE):
                    self(level, line[start : start + MAX_MESSAGE], **fields)
