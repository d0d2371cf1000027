"""
Problems found while loading a project, and the error that carries them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from attrs import Factory, define, frozen

Severity = Literal["error", "warning"]


@frozen
class ConfigIssue:
    """
    One problem in a project's configuration, precise enough to act on.

    :ivar file: the file at fault, relative to the project root; an agent's
        directory when its name is at fault, and the absolute project path
        when the project directory itself is missing.
    :ivar field: the dotted field inside the file, such as
        ``webhooks[0].source`` or ``models.sonnet.provider``; ``(syntax)``
        when the file does not parse.
    :ivar message: what is wrong, ending with what was expected.
    :ivar severity: ``"error"`` stops the project from loading;
        ``"warning"`` does not.
    """

    file: Path
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        """
        Render as ``<file>: <field>: <message>``.
        """
        return f"{self.file.as_posix()}: {self.field}: {self.message}"


class ConfigError(Exception):
    """
    A project that cannot be loaded; carries every error found, not only the
    first.

    :ivar issues: the errors, in the order they were found.
    :ivar warnings: the warnings found alongside them.
    """

    def __init__(
        self, issues: Sequence[ConfigIssue], warnings: Sequence[ConfigIssue] = ()
    ) -> None:
        """
        :param issues: the errors; at least one.
        :param warnings: warnings found in the same pass.
        """
        self.issues: list[ConfigIssue] = list(issues)
        self.warnings: list[ConfigIssue] = list(warnings)
        super().__init__(self.issues, self.warnings)

    def __str__(self) -> str:
        """
        One error per line.
        """
        return "\n".join(str(issue) for issue in self.issues)


@define
class IssueLog:
    """
    Collects the issues of one load of a project.

    :ivar root: the project root; issue paths are made relative to it.
    :ivar strict: report warnings as errors.
    """

    root: Path
    strict: bool
    errors: list[ConfigIssue] = Factory(list)
    warnings: list[ConfigIssue] = Factory(list)

    def error(self, file: Path, field: str, message: str) -> None:
        """
        Record an error.

        :param file: the file at fault, absolute or relative to the root.
        :param field: the dotted field name.
        :param message: what is wrong and what was expected.
        """
        self.errors.append(ConfigIssue(self._relative(file), field, message))

    def warn(self, file: Path, field: str, message: str) -> None:
        """
        Record a warning, or an error when the load is strict.

        :param file: the file at fault, absolute or relative to the root.
        :param field: the dotted field name.
        :param message: what is wrong and what was expected.
        """
        if self.strict:
            self.error(file, field, message)
        else:
            issue = ConfigIssue(self._relative(file), field, message, "warning")
            self.warnings.append(issue)

    def _relative(self, file: Path) -> Path:
        return file.relative_to(self.root) if file.is_absolute() else file
