"""
The OpenAPI document against the gateway: it names exactly the routes the
Klein apps serve, its own references hold, and a real gateway asks each
route for the credentials the document says it needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers

from action_llama.gateway.openapi import openapi_document
from tests.helpers import REPO

from .routes import (
    METHODS,
    documented,
    documented_routes,
    fill,
    gateway_routes,
    kind_of,
    operations,
    root_app,
)
from .support import Gateway

#: What every path parameter is filled with: it names nothing, so no route
#: acts on anything.
_NOTHING = "no-such-thing"

#: Routes not sent with the key: the answer would end the test session.
_NOT_SENT_WITH_KEY = {("POST", "/control/stop")}

#: Where each kind of route lives, by SPEC.md 4.1.
_PROTECTED_PATHS = re.compile(
    r"^/(control/|dashboard/|api/stats/|api/webhooks/|locks/status$|api/auth/link$)"
)
_RUN_PATHS = re.compile(r"^/(signals/|locks/(acquire|release|heartbeat)$|calls)")


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """
    ``node``, or what its ``$ref`` points at within ``document``.
    """
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _references(node: Any) -> Iterator[str]:
    """
    Every ``$ref`` anywhere below ``node``.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


class _HangUp(Protocol):
    """
    Receives a response body by closing the connection at once: for event
    streams, which never end.
    """

    def connectionMade(self) -> None:
        IPushProducer(self.transport).stopProducing()


async def _code(
    gateway: Gateway, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> int:
    """
    The status ``path`` answers with; an event stream is hung up on after
    its headers.
    """
    pool = HTTPConnectionPool(reactor, persistent=False)
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))
    response = await client.request(
        method,
        gateway.base + path,
        headers=Headers({name: [value] for name, value in headers.items()}),
        allow_redirects=False,
        **kwargs,
    )
    content_type = response.headers.getRawHeaders("content-type", [""])[0]
    if content_type.startswith("text/event-stream"):
        response.deliverBody(_HangUp())
    else:
        await response.content()
    code: int = response.code
    return code


def _public_request(gateway: Gateway, method: str, path: str) -> dict[str, Any]:
    """
    What a public route is sent so that it has no reason to refuse: the
    login routes take the key in their body.
    """
    if (method, path) == ("POST", "/login"):
        return {"data": {"key": gateway.key}}
    if (method, path) == ("POST", "/api/auth/login"):
        return {"json": {"key": gateway.key}}
    return {}


def test_document_is_openapi_3_1_with_three_schemes() -> None:
    """
    The document is OpenAPI 3.1 and defines the Bearer key, the session
    cookie and the run secret as its security schemes.
    """
    document = documented()
    schemes = document["components"]["securitySchemes"]
    shapes = {
        name: {k: v for k, v in scheme.items() if k != "description"}
        for name, scheme in schemes.items()
    }
    assert document["openapi"].startswith("3.1.")
    assert shapes == {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "al_session"},
        "runSecret": {"type": "http", "scheme": "bearer"},
    }


def test_each_operation_states_the_security_spec_gives_its_path() -> None:
    """
    Every operation states its security: the key or a session on the
    protected paths, a run secret on the run routes, nothing elsewhere.
    """
    for method, path, operation in operations():
        if _PROTECTED_PATHS.match(path):
            expected = "protected"
        elif _RUN_PATHS.match(path):
            expected = "run"
        else:
            expected = "public"
        assert kind_of(operation) == expected, (method, path)


def test_every_reference_resolves() -> None:
    """
    Every ``$ref`` in the document points at something the document holds.
    """
    document = documented()
    references = set(_references(document))
    assert references
    for reference in references:
        assert _resolve(document, {"$ref": reference}), reference


def test_path_parameters_match_the_templates() -> None:
    """
    Every ``{name}`` of a path template is a declared, required path
    parameter, and no path parameter is declared that the template lacks.
    """
    document = documented()
    for path, item in document["paths"].items():
        in_template = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            if method not in METHODS:
                continue
            declared = [
                _resolve(document, parameter)
                for parameter in item.get("parameters", [])
                + operation.get("parameters", [])
            ]
            in_path = {p["name"] for p in declared if p["in"] == "path"}
            assert in_path == in_template, (method, path)
            assert all(p["required"] for p in declared if p["in"] == "path")


def test_every_error_answer_is_documented_as_json_with_an_error() -> None:
    """
    Every operation documents its unexpected failure, and each of its JSON
    answers with a 4xx or 5xx code has a required ``error`` string.
    """
    document = documented()
    for method, path, operation in operations():
        assert "500" in operation["responses"], (method, path)
        for code, response in operation["responses"].items():
            body = _resolve(document, response).get("content", {})
            if int(code) < 400 or "application/json" not in body:
                continue
            shape = _resolve(document, body["application/json"]["schema"])
            assert "error" in shape["required"], (method, path, code)
            assert shape["properties"]["error"]["type"] == "string"


def test_docs_copy_is_a_relative_link_to_the_package_copy() -> None:
    """
    ``docs/openapi.json`` is a relative symbolic link to the document the
    package ships and serves.
    """
    link = REPO / "docs" / "openapi.json"
    assert link.is_symlink()
    target = Path(link.readlink())
    assert not target.is_absolute()
    assert link.resolve() == REPO / "action_llama" / "gateway" / "openapi.json"
    assert link.read_bytes() == openapi_document()


@pytest_twisted.ensureDeferred
async def test_document_names_exactly_the_served_routes(gateway: Gateway) -> None:
    """
    The routes of the gateway's Klein apps, branches included, are exactly
    the document's operations: a route added without documenting it, or
    documented without serving it, fails here.
    """
    served = await gateway_routes(gateway)
    documented_only = documented_routes() - served
    served_only = served - documented_routes()
    assert (served_only, documented_only) == (set(), set())


@pytest_twisted.ensureDeferred
async def test_document_is_served_without_credentials(gateway: Gateway) -> None:
    """
    ``GET /api/openapi.json`` answers with the document, as JSON, to a
    client without credentials.
    """
    await root_app(gateway)
    answer = await gateway.request("GET", "/api/openapi.json")
    assert answer.code == 200
    assert answer.header("content-type") == "application/json"
    assert answer.json() == json.loads(openapi_document())


@pytest_twisted.ensureDeferred
async def test_each_route_asks_for_the_credentials_the_document_names(
    gateway: Gateway,
) -> None:
    """
    On a real gateway, every documented route refuses what its security
    refuses: protected routes give 401 without credentials and let the key
    through, run routes give 403 without a run's secret (the key is not
    one), and public routes refuse nobody.
    """
    await root_app(gateway)
    seen = []
    for method, template, operation in operations():
        path = fill(template, _NOTHING)
        kind = kind_of(operation)
        bare = await _code(
            gateway, method, path, {}, **_public_request(gateway, method, path)
        )
        if kind == "protected":
            assert bare == 401, (method, path)
            if (method, template) not in _NOT_SENT_WITH_KEY:
                keyed = {"Authorization": f"Bearer {gateway.key}"}
                assert await _code(gateway, method, path, keyed) != 401, path
        elif kind == "run":
            assert bare == 403, (method, path)
            for secret in (gateway.key, "not-a-run-secret"):
                sent = {"Authorization": f"Bearer {secret}"}
                assert await _code(gateway, method, path, sent) == 403, path
        else:
            assert bare not in (401, 403), (method, path, bare)
        seen.append((method, template))
    assert set(seen) == documented_routes()
    assert (await gateway.request("GET", "/health")).code == 200
