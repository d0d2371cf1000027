"""
The gateway's route table as its Klein apps define it, and as the OpenAPI
document describes it, for the tests that hold one to the other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, cast

from klein import Klein
from klein.resource import KleinResource
from twisted.internet.tcp import Port
from twisted.web.iweb import IRequest
from twisted.web.server import Site
from twisted.web.test.requesthelper import DummyRequest

from action_llama.gateway import GatewayRoot
from action_llama.gateway.auth import Protected
from action_llama.gateway.openapi import openapi_document

from .support import Gateway

#: The HTTP methods an OpenAPI path item may hold.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_CONVERTER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def documented() -> dict[str, Any]:
    """
    The OpenAPI document the package ships.
    """
    document: dict[str, Any] = json.loads(openapi_document())
    return document


def documented_routes() -> set[tuple[str, str]]:
    """
    ``(METHOD, path template)`` of every operation in the document.
    """
    return {(method, path) for method, path, _ in operations()}


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """
    ``(METHOD, path template, operation)`` for every operation documented.
    """
    for path, item in documented()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def kind_of(operation: dict[str, Any]) -> str:
    """
    ``public``, ``protected`` (the key or a session) or ``run`` (a run's
    secret), by the operation's security.
    """
    security = operation["security"]
    if security == [{"bearerAuth": []}, {"cookieAuth": []}]:
        return "protected"
    if security == [{"runSecret": []}]:
        return "run"
    assert security == [], security
    return "public"


def fill(template: str, value: str) -> str:
    """
    ``template`` with every parameter replaced by ``value``.
    """
    return re.sub(r"\{[^}]+\}", value, template)


def app_of(resource: object) -> Klein:
    """
    The Klein app behind a tree, looking through the auth wrapper.
    """
    if isinstance(resource, Protected):
        # XXX Protected keeps its tree private; a test may look inside.
        resource = resource._wrapped
    assert isinstance(resource, KleinResource), resource
    # XXX Klein has no public way from a resource back to its app.
    app: Klein = resource._app
    return app


def served_routes(app: Klein, prefix: str = "") -> set[tuple[str, str]]:
    """
    ``(METHOD, path template)`` of every route of ``app`` and of the trees
    its branch routes mount, with werkzeug's ``<name>`` written ``{name}``.

    A branch route (``/control/``) is two werkzeug rules: ``/control/``
    and ``/control/<path:__rest__>``; both hand the request to the mounted
    tree, whose own rules are the routes. ``HEAD`` is left out where
    werkzeug added it beside ``GET``; a rule that takes any method shows as
    ``*``.
    """
    rules = list(app.url_map.iter_rules())
    branches = {
        rule.endpoint.removesuffix("_branch")
        for rule in rules
        if rule.endpoint.endswith("_branch")
    }
    table = set()
    for rule in rules:
        if rule.endpoint in branches:
            continue
        if rule.endpoint in {name + "_branch" for name in branches}:
            mount = rule.rule.removesuffix("/<path:__rest__>")
            tree = app.execute_endpoint(
                rule.endpoint.removesuffix("_branch"),
                cast(IRequest, DummyRequest([b""])),
            )
            table |= served_routes(app_of(tree), prefix + mount)
            continue
        path = prefix + _CONVERTER.sub(r"{\1}", rule.rule)
        methods = set(rule.methods or {"*"})
        if "GET" in methods:
            methods.discard("HEAD")
        table |= {(method, path) for method in methods}
    return table


async def root_app(gateway: Gateway) -> Klein:
    """
    The Klein app behind the root of a running gateway.
    """
    return app_of((await _root(gateway)).tree)


async def _root(gateway: Gateway) -> GatewayRoot:
    port = await gateway.service.getServiceNamed("gateway").when_listening()
    assert isinstance(port, Port) and isinstance(port.factory, Site)
    root = port.factory.resource
    assert isinstance(root, GatewayRoot)
    return root


async def gateway_routes(gateway: Gateway) -> set[tuple[str, str]]:
    """
    Every route a running gateway serves: the root's fixed routes (answered
    before routing) and those of its Klein apps.
    """
    root = await _root(gateway)
    fixed = {route for resource in root.fast.values() for route in resource.routes}
    return fixed | served_routes(app_of(root.tree))
