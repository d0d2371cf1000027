"""
``GET /api/openapi.json``: the OpenAPI document of every gateway route.

The document is the ``openapi.json`` file beside this module (also at
``docs/openapi.json``); it is served as it is, without authentication, so
that clients and tools can read the contract of the gateway they talk to.
``tests/gateway/test_routes.py`` checks that it names exactly the routes the
gateway serves.
"""

from __future__ import annotations

from importlib.resources import files

from klein import Klein
from twisted.web.iweb import IRequest


def openapi_document() -> bytes:
    """
    The OpenAPI document, as stored in the package.
    """
    return (files("action_llama.gateway") / "openapi.json").read_bytes()


def add_openapi_route(app: Klein) -> None:
    """
    Add ``GET /api/openapi.json`` to ``app``; the document is read once, now.
    """
    document = openapi_document()

    @app.route("/api/openapi.json", methods=["GET"])
    def openapi(request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-cache")
        return document
