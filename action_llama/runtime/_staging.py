"""
Prepare what a run needs on disk before its process starts.

Layout of a run directory::

    <run_dir>/run.json          the run file (see RunSpec)
    <run_dir>/trigger.json      the trigger context (AL_TRIGGER_FILE)
    <run_dir>/env.json          variables stored by ``setenv`` (AL_ENV_FILE)
    <run_dir>/exit-code         written by ``al-exit``
    <run_dir>/credentials/<type>/<instance>/<field>   staged secrets, 0600
    <run_dir>/work/             working directory and HOME of the run

All of it is small, so it is written from the reactor thread.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from action_llama.agent.commands import COMMAND_NAMES
from action_llama.credentials import CredentialStore, parse_ref

#: The environment variables each staged credential field is exported as.
#: A field not listed here is exported as ``AL_CRED_<TYPE>_<FIELD>``; a later
#: ref of the same type overrides an earlier one.
CREDENTIAL_ENV: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("github_token", "token"): ("GITHUB_TOKEN", "GH_TOKEN"),
    ("anthropic_key", "token"): ("ANTHROPIC_API_KEY",),
    ("openai_key", "token"): ("OPENAI_API_KEY",),
    ("groq_key", "token"): ("GROQ_API_KEY",),
    ("openrouter_key", "token"): ("OPENROUTER_API_KEY",),
    ("xai_key", "token"): ("XAI_API_KEY",),
    ("mistral_key", "token"): ("MISTRAL_API_KEY",),
    ("google_key", "token"): ("GOOGLE_API_KEY",),
    ("custom_key", "token"): ("CUSTOM_API_KEY",),
    ("sentry_token", "token"): ("SENTRY_AUTH_TOKEN",),
    ("linear_token", "token"): ("LINEAR_API_KEY",),
}

#: The ``git_ssh`` field holding a private key; it is not exported itself,
#: ``GIT_SSH_COMMAND`` points ssh at its staged file instead.
SSH_KEY = ("git_ssh", "id_rsa")


class StagingError(Exception):
    """
    The run cannot start; the message says why, in words a person can act on.
    """


def write_command_wrappers(bin_dir: Path, python: str) -> None:
    """
    Write one executable ``#!/bin/sh`` wrapper per agent command.

    :param bin_dir: the directory to put them in (created if missing); runs
        get it first on their ``PATH``.
    :param python: the interpreter the commands run with.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMAND_NAMES:
        target = bin_dir / name
        scratch = bin_dir / f".{name}.tmp"
        scratch.write_text(
            "#!/bin/sh\n"
            f"exec {shlex.quote(python)} -m action_llama.agent.commands"
            f' {name} "$@"\n'
        )
        scratch.chmod(0o755)
        scratch.replace(target)


def make_run_dir(run_dir: Path, run_file: Mapping[str, Any]) -> None:
    """
    Create a fresh run directory holding the run file and the trigger file.

    :param run_dir: the directory to create; private to the service user.
    :param run_file: the run file content.
    :raises StagingError: if the directory already exists or cannot be
        written.
    """
    try:
        run_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        raise StagingError(f"the run directory {run_dir} already exists") from None
    except OSError as e:
        raise StagingError(f"cannot create the run directory: {e}") from None
    (run_dir / "work").mkdir()
    (run_dir / "run.json").write_text(json.dumps(run_file))
    (run_dir / "trigger.json").write_text(json.dumps(run_file.get("trigger", {})))
    (run_dir / "env.json").write_text("{}")


def stage_credentials(
    run_dir: Path, refs: Iterable[str], store: CredentialStore
) -> dict[str, str]:
    """
    Copy each credential into the run and work out what to export.

    :param run_dir: the run directory.
    :param refs: credential refs, ``type`` or ``type:instance``.
    :param store: where to read them.
    :returns: the environment variables to export.
    :raises StagingError: if a credential is missing or a ref is malformed.
    """
    env: dict[str, str] = {}
    for ref in refs:
        try:
            type_, instance = parse_ref(ref)
            fields = store.read(type_, instance)
        except ValueError as e:
            raise StagingError(f"invalid credential ref {ref!r}: {e}") from None
        except KeyError:
            raise StagingError(
                f"credential {ref!r} is missing; add it with `al creds add {ref}`"
            ) from None
        directory = run_dir / "credentials" / type_ / instance
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, value in fields.items():
            path = directory / name
            if (type_, name) == SSH_KEY:
                value = value if value.endswith("\n") else value + "\n"
                env["GIT_SSH_COMMAND"] = (
                    f"ssh -i {shlex.quote(str(path))} -o IdentitiesOnly=yes"
                    " -o StrictHostKeyChecking=accept-new"
                )
            else:
                for var in CREDENTIAL_ENV.get((type_, name), (_generic(type_, name),)):
                    env[var] = value
            _write_secret(path, value)
    return env


def remove_credentials(run_dir: Path) -> None:
    """
    Delete the secrets staged into a run, once it has ended.

    :param run_dir: the run directory.
    """
    shutil.rmtree(run_dir / "credentials", ignore_errors=True)


def hand_over(run_dir: Path, user: str) -> None:
    """
    Make ``user`` the owner of everything in the run directory.

    :param run_dir: the run directory.
    :param user: the OS user the run executes as.
    :raises StagingError: if the user is unknown or ownership cannot change.
    """
    # XXX changing ownership needs the service to run as root; a service
    # user with sudo rights only would need group-based sharing instead,
    # which is left for the host-user runtime's own issue.
    try:
        entry = pwd.getpwnam(user)
        for directory, _, files in os.walk(run_dir):
            for path in [directory, *(os.path.join(directory, f) for f in files)]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
    except (KeyError, OSError) as e:
        raise StagingError(
            f"cannot hand the run directory over to user {user!r}: {e}"
        ) from None


def _generic(type_: str, name: str) -> str:
    """
    The fallback variable name of a credential field.
    """
    return re.sub(r"[^A-Z0-9_]", "_", f"AL_CRED_{type_}_{name}".upper())


def _write_secret(path: Path, value: str) -> None:
    """
    Write a file that only its owner can read, without a moment of wider
    permissions.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
