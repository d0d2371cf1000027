"""
``al doctor``: validate the project, report missing credentials, and make
sure the gateway API key exists.
"""

from __future__ import annotations

import sys

import click

from ..checks import missing_credentials
from ..credentials import CredentialStore, fields_for, parse_ref
from ._common import load_or_exit, project_option, project_root


@click.command()
@project_option
@click.option("--strict", is_flag=True, help="Treat unknown config fields as errors.")
@click.option("--show-key", is_flag=True, help="Print the gateway API key.")
@click.option(
    "--regenerate-key",
    is_flag=True,
    help="Replace the gateway API key; sessions made with the old one end.",
)
@click.pass_context
def doctor(
    ctx: click.Context, strict: bool, show_key: bool, regenerate_key: bool
) -> None:
    """
    Check the project and the credential store.

    Exits 2 if the project does not validate. On a terminal it offers to
    store each missing credential; elsewhere it only reports them.
    """
    project = load_or_exit(project_root(ctx), strict=strict)
    interactive = sys.stdin.isatty()
    click.echo(f"Project {project.root}: {len(project.agents)} agent(s), config OK.")
    for warning in project.warnings:
        click.echo(f"  warning: {warning}")

    store = CredentialStore()
    missing = missing_credentials(project, store)
    if missing:
        click.echo(f"{len(missing)} credential(s) missing:")
    for need in missing:
        click.echo(f"  {need.ref:<32} needed by {', '.join(need.needed_by)}")
        if interactive:
            _offer_to_store(store, need.ref)
    if missing and not interactive:
        click.echo("Add them with `al creds add <ref>`.")
    if not missing:
        click.echo("Every credential the project names is stored.")

    if regenerate_key:
        key, created = store.regenerate_gateway_key(), True
    else:
        key, created = store.ensure_gateway_key()
    verb = "Created" if created else "Found"
    click.echo(f"{verb} the gateway API key at {store.gateway_key_path()}.")
    if show_key:
        click.echo(key)


def _offer_to_store(store: CredentialStore, ref: str) -> None:
    """
    Ask for each field of ``ref`` on the terminal; an empty answer skips it.
    """
    kind, instance = parse_ref(ref)
    for field in fields_for(kind):
        value = click.prompt(
            f"    {field} (empty to skip)",
            default="",
            hide_input=True,
            show_default=False,
        )
        if not value:
            return
        store.write(kind, instance, field, value)
