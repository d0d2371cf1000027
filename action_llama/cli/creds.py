"""
``al creds``: list, add and remove credentials in the store.

Values are never printed; ``add`` reads them from a hidden prompt on a
terminal, or from standard input otherwise (one field per line).
"""

from __future__ import annotations

import sys

import click

from ..credentials import CredentialRefError, CredentialStore, fields_for, parse_ref


@click.group()
def creds() -> None:
    """
    Manage the credential store (~/.action-llama/credentials).
    """


@creds.command("ls")
def list_credentials() -> None:
    """
    List stored credentials by name and field, never their values.
    """
    store = CredentialStore()
    entries = store.entries()
    if not entries:
        click.echo(f"No credentials stored in {store.root}.")
        return
    width = max(len(entry.ref) for entry in entries)
    for entry in entries:
        click.echo(f"{entry.ref:<{width}}  {', '.join(entry.fields)}")


@creds.command("add")
@click.argument("ref")
def add_credential(ref: str) -> None:
    """
    Store the credential REF (type or type:instance).
    """
    kind, instance = _parse(ref)
    store = CredentialStore()
    fields = fields_for(kind)
    if sys.stdin.isatty():
        values = [
            click.prompt(f"{kind}:{instance} {field}", hide_input=True)
            for field in fields
        ]
    else:
        lines = sys.stdin.read().splitlines()
        if len(fields) == 1:
            values = ["\n".join(lines).strip()]
        else:
            values = [line.strip() for line in lines[: len(fields)]]
        if len(values) < len(fields) or not all(values):
            raise click.ClickException(
                f"{kind} needs {len(fields)} value(s) on standard input, one per "
                f"line: {', '.join(fields)}"
            )
    for field, value in zip(fields, values, strict=False):
        store.write(kind, instance, field, value)
    click.echo(f"Stored {kind}:{instance} ({', '.join(fields)}).")


@creds.command("rm")
@click.argument("ref")
def remove_credential(ref: str) -> None:
    """
    Remove the credential REF with all its fields.
    """
    kind, instance = _parse(ref)
    if not CredentialStore().remove(kind, instance):
        raise click.ClickException(f"No credential {kind}:{instance} is stored.")
    click.echo(f"Removed {kind}:{instance}.")


def _parse(ref: str) -> tuple[str, str]:
    """
    Parse a reference given on the command line, as a usage error if bad.
    """
    try:
        return parse_ref(ref)
    except CredentialRefError as e:
        raise click.BadParameter(str(e), param_hint="REF") from None
