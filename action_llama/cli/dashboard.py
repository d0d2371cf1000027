"""
``al dashboard``: a fresh one-time login link for the running gateway's
dashboard, so the API key never has to be pasted into a browser.
"""

from __future__ import annotations

from typing import Any

import click

from ._client import GatewayClient, GatewayError
from ._common import load_or_exit, project_option, project_root, run_async


@click.command()
@project_option
@click.pass_context
def dashboard(ctx: click.Context) -> None:
    """
    Print a one-time login link to the dashboard (it works once, within 10
    minutes).
    """
    project = load_or_exit(project_root(ctx))

    async def main(reactor: Any) -> int:
        client = GatewayClient.for_project(reactor, project)
        answer = await client.post("/api/auth/link")
        url = answer.get("url")
        if not isinstance(url, str) or not url:
            raise GatewayError("the gateway gave no login link")
        if url.startswith("/"):
            url = client.base_url + url
        click.echo("Open the dashboard with this link (single use, 10 minutes):")
        click.echo(url)
        return 0

    run_async(main)
