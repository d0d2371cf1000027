"""
Which variables of a run hold secrets, and masking their values.

The runtime masks every line a run writes before it reaches the agent's
log (hook output included), and the LLM session masks what it logs and what
its tool calls send back to the model.

The runtime exports each staged credential under the names its
``CREDENTIAL_ENV`` table gives (``GITHUB_TOKEN``, ``ANTHROPIC_API_KEY``, ...)
or, for fields it does not know, as ``AL_CRED_<TYPE>_<FIELD>``. Those, and
the run's own gateway secret, are what a session must never show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ._staging import CREDENTIAL_ENV

#: The prefix of the variables holding credential fields the runtime has no
#: name for.
GENERIC_PREFIX = "AL_CRED_"

#: Shorter values are not masked: they would mask ordinary words.
MIN_SECRET_LENGTH = 4

#: What a secret value is replaced with.
MASK = "***"

_KNOWN_NAMES = frozenset(name for names in CREDENTIAL_ENV.values() for name in names)


def credential_names(environ: Mapping[str, str]) -> list[str]:
    """
    The variables of ``environ`` that hold staged credentials.

    :param environ: the run's environment.
    :returns: their names, sorted.
    """
    return sorted(
        name
        for name in environ
        if name in _KNOWN_NAMES or name.startswith(GENERIC_PREFIX)
    )


class Masker:
    """
    Replaces secret values in text with `MASK`.

    :param secrets: the values to hide; those shorter than
        `MIN_SECRET_LENGTH` are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted(
            {value for value in secrets if len(value) >= MIN_SECRET_LENGTH},
            key=len,
            reverse=True,
        )
        # Longest first, so that a secret containing another is hidden whole.
        self._pattern = (
            re.compile("|".join(re.escape(value) for value in values))
            if values
            else None
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Masker:
        """
        A masker for the credentials and the run secret found in ``environ``.
        """
        names = [*credential_names(environ), "AL_RUN_SECRET"]
        return cls(environ[name] for name in names if name in environ)

    def __call__(self, text: str) -> str:
        """
        ``text`` with every secret value replaced.
        """
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
