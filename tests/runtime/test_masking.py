"""
Tests for finding the run's secrets and masking them.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from action_llama.runtime import Masker, credential_names


def test_credential_names_are_the_exported_ones() -> None:
    """
    The credential variables are those of the runtime's table and the
    generic ``AL_CRED_`` ones; other variables are not credentials.
    """
    environ = {
        "GITHUB_TOKEN": "x",
        "CUSTOM_API_KEY": "x",
        "AL_CRED_DEPLOY_URL": "x",
        "AL_RUN_SECRET": "x",
        "HOME": "/w",
    }

    assert credential_names(environ) == [
        "AL_CRED_DEPLOY_URL",
        "CUSTOM_API_KEY",
        "GITHUB_TOKEN",
    ]


def test_masker_hides_credentials_and_the_run_secret() -> None:
    """
    The values of credential variables and of the run secret are masked;
    values of other variables are not.
    """
    mask = Masker.from_environ(
        {"GH_TOKEN": "ghp_abc123", "AL_RUN_SECRET": "run-s3cret", "HOME": "/home/x"}
    )

    assert mask("t=ghp_abc123 s=run-s3cret h=/home/x") == "t=*** s=*** h=/home/x"


def test_short_values_are_not_masked() -> None:
    """
    Values under four characters would mask ordinary text, so they are left.
    """
    mask = Masker(["abc", "abcd"])

    assert mask("abc abcd") == "abc ***"


def test_longest_secret_is_masked_whole() -> None:
    """
    A secret that contains another is masked as a whole.
    """
    mask = Masker(["token", "token-with-suffix"])

    assert mask("token-with-suffix and token") == "*** and ***"


_TEXT = st.text(alphabet="abcdefgh-_ \n", max_size=40)


@given(
    secret=st.text(alphabet="abcdefgh-_", min_size=4, max_size=12),
    before=_TEXT,
    after=_TEXT,
)
def test_masked_text_never_holds_the_secret(
    secret: str, before: str, after: str
) -> None:
    """
    Whatever surrounds a secret, the masked text does not hold it.
    """
    assert secret not in Masker([secret])(before + secret + after)
