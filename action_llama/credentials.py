"""
The credential store: plain files under ``~/.action-llama/credentials``.

Layout, kept from the original tool so existing stores work unchanged::

    ~/.action-llama/credentials/<type>/<instance>/<field>

Directories are created 0700 and files 0600; every write goes to a temporary
file in the same directory and is renamed into place, so a crash never leaves
half a secret behind. The gateway API key lives here too, as
``gateway_api_key/default/key``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

from attrs import frozen

GATEWAY_KEY_TYPE = "gateway_api_key"
GATEWAY_KEY_FIELD = "key"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: The fields each known credential type holds, in the order ``al creds add``
#: asks for them. Types not listed here hold a single field, ``token``.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "github_token": ("token",),
    "git_ssh": ("id_rsa",),
    "sentry_token": ("token",),
    "linear_token": ("token",),
    "anthropic_key": ("token",),
    "openai_key": ("token",),
    "groq_key": ("token",),
    "openrouter_key": ("token",),
    "xai_key": ("token",),
    "mistral_key": ("token",),
    "google_key": ("token",),
    "custom_key": ("token",),
    "github_webhook_secret": ("secret",),
    "sentry_client_secret": ("secret",),
    "linear_webhook_secret": ("secret",),
    "mintlify_webhook_secret": ("secret",),
    "slack_signing_secret": ("secret",),
    "discord_bot": ("application_id", "public_key", "bot_token"),
    "x_twitter_api": ("consumer_key", "consumer_secret", "bearer_token"),
    GATEWAY_KEY_TYPE: (GATEWAY_KEY_FIELD,),
}


class CredentialRefError(ValueError):
    """
    A credential reference that is not ``type`` or ``type:instance``.
    """


def parse_ref(ref: str) -> tuple[str, str]:
    """
    Split a credential reference into its type and instance.

    :param ref: ``type`` or ``type:instance``; the instance defaults to
        ``default``.
    :raises CredentialRefError: if either part is empty or holds characters
        that are unsafe in a file name.
    """
    kind, _, instance = ref.partition(":")
    instance = instance or "default"
    for part in (kind, instance):
        if not _NAME_RE.match(part):
            raise CredentialRefError(
                f"bad credential reference {ref!r}: expected 'type' or "
                "'type:instance' made of letters, digits, '_', '.' and '-'"
            )
    return kind, instance


def fields_for(kind: str) -> tuple[str, ...]:
    """
    The fields a credential of type ``kind`` is expected to hold.
    """
    return CREDENTIAL_FIELDS.get(kind, ("token",))


@frozen
class StoredCredential:
    """
    One credential instance in the store, by name only (never its values).
    """

    kind: str
    instance: str
    fields: tuple[str, ...]

    @property
    def ref(self) -> str:
        """
        The reference that names this credential, as agents' configs write it.
        """
        if self.instance == "default":
            return self.kind
        return f"{self.kind}:{self.instance}"


class CredentialStore:
    """
    Read and write credentials under ``<home>/.action-llama/credentials``.

    :param home: the home directory; ``None`` means ``$HOME`` at the time of
        each call, so tests and the service agree on one place.
    """

    def __init__(self, home: Path | None = None) -> None:
        self._home = home

    @property
    def root(self) -> Path:
        """
        The directory that holds every credential type.
        """
        home = self._home if self._home is not None else Path.home()
        return home / ".action-llama" / "credentials"

    def path(self, kind: str, instance: str = "default", field: str = "") -> Path:
        """
        Where a credential instance (or one of its fields) lives.
        """
        parse_ref(f"{kind}:{instance}")
        base = self.root / kind / instance
        return base / field if field else base

    def read(self, kind: str, instance: str = "default") -> dict[str, str]:
        """
        Every field of one credential instance.

        :raises KeyError: if the instance does not exist or has no fields.
        """
        base = self.path(kind, instance)
        values = {}
        if base.is_dir():
            for entry in sorted(base.iterdir()):
                if entry.is_file() and not entry.name.startswith("."):
                    values[entry.name] = entry.read_text(encoding="utf-8").strip()
        if not values:
            raise KeyError(f"{kind}:{instance}")
        return values

    def get(self, kind: str, instance: str, field: str) -> str | None:
        """
        One field's value, or ``None`` if it is not stored.
        """
        try:
            return self.path(kind, instance, field).read_text("utf-8").strip()
        except FileNotFoundError:
            return None

    def has(self, ref: str) -> bool:
        """
        Whether the credential named by ``ref`` exists with at least one field.
        """
        kind, instance = parse_ref(ref)
        try:
            self.read(kind, instance)
        except KeyError:
            return False
        return True

    def write(self, kind: str, instance: str, field: str, value: str) -> Path:
        """
        Store one field atomically, creating directories 0700 and the file 0600.

        :returns: the path of the field's file.
        """
        if not _NAME_RE.match(field):
            raise CredentialRefError(f"bad credential field name {field!r}")
        target = self.path(kind, instance, field)
        for directory in (self.root.parent, self.root, target.parent.parent):
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(target.parent, 0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(value)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        return target

    def remove(self, kind: str, instance: str = "default") -> bool:
        """
        Delete one credential instance with all its fields.

        :returns: whether anything was there to delete.
        """
        base = self.path(kind, instance)
        if not base.is_dir():
            return False
        shutil.rmtree(base)
        return True

    def entries(self) -> list[StoredCredential]:
        """
        Every stored credential instance, sorted by type and instance.
        """
        found: list[StoredCredential] = []
        if not self.root.is_dir():
            return found
        for kind_dir in sorted(self.root.iterdir()):
            if not kind_dir.is_dir():
                continue
            for inst_dir in sorted(kind_dir.iterdir()):
                if not inst_dir.is_dir():
                    continue
                fields = tuple(
                    sorted(
                        f.name
                        for f in inst_dir.iterdir()
                        if f.is_file() and not f.name.startswith(".")
                    )
                )
                if fields:
                    found.append(StoredCredential(kind_dir.name, inst_dir.name, fields))
        return found

    def gateway_key_path(self) -> Path:
        """
        Where the gateway API key lives.
        """
        return self.path(GATEWAY_KEY_TYPE, "default", GATEWAY_KEY_FIELD)

    def gateway_key(self) -> str | None:
        """
        The gateway API key, or ``None`` if none has been made yet.
        """
        return self.get(GATEWAY_KEY_TYPE, "default", GATEWAY_KEY_FIELD) or None

    def ensure_gateway_key(self) -> tuple[str, bool]:
        """
        Return the gateway API key, generating one if it is missing.

        :returns: the key, and whether it was created by this call.
        """
        key = self.gateway_key()
        if key:
            return key, False
        return self.regenerate_gateway_key(), True

    def regenerate_gateway_key(self) -> str:
        """
        Replace the gateway API key with 32 fresh random bytes (URL-safe).
        """
        key = secrets.token_urlsafe(32)
        self.write(GATEWAY_KEY_TYPE, "default", GATEWAY_KEY_FIELD, key)
        return key


#: The credential type that holds each webhook provider's signing secret.
WEBHOOK_SECRET_TYPES: dict[str, str] = {
    "github": "github_webhook_secret",
    "sentry": "sentry_client_secret",
    "linear": "linear_webhook_secret",
    "mintlify": "mintlify_webhook_secret",
    "slack": "slack_signing_secret",
    "discord": "discord_bot",
    "twitter": "x_twitter_api",
}

#: The credential type that holds each model provider's API key.
PROVIDER_KEY_TYPES: dict[str, str] = {
    "anthropic": "anthropic_key",
    "openai": "openai_key",
    "groq": "groq_key",
    "openrouter": "openrouter_key",
    "xai": "xai_key",
    "mistral": "mistral_key",
    "google": "google_key",
    "custom": "custom_key",
}
