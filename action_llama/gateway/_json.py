"""
JSON answers and errors shared by every route tree.

Every error a client sees is ``{"error": "<one sentence>"}`` with the right
status code; nothing renders a traceback or an HTML error page.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from klein import Klein
from klein.resource import KleinResource
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from ..store import DatabaseUnavailable

log = Logger(namespace="action_llama.gateway")


class HTTPError(Exception):
    """
    An expected failure of a request: a status code and a reason for the
    client.
    """

    def __init__(self, code: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers


def json_body(request: IRequest, body: Any, code: int = 200) -> bytes:
    """
    Set ``code`` and the JSON content type on ``request`` and encode ``body``.
    """
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def json_error(request: IRequest, code: int, message: str) -> bytes:
    """
    A JSON error answer: ``{"error": message}`` with status ``code``.
    """
    return json_body(request, {"error": message}, code)


def _no_constant(name: str) -> Any:
    """
    Refuse ``NaN`` and ``Infinity``, which Python's parser takes but JSON
    does not have.
    """
    raise ValueError(f"{name} is not a JSON value")


def read_json(request: IRequest, max_bytes: int = 1 << 20) -> Any:
    """
    The request's body parsed as JSON.

    :raises HTTPError: 415 for another content type, 413 when the body is too
        large, 400 when it is not valid JSON (or nested too deeply to parse).
    """
    content_type = (request.getHeader(b"content-type") or b"").split(b";")[0]
    if content_type.strip().lower() not in (b"application/json", b""):
        raise HTTPError(415, "send the body as application/json")
    raw = request.content.read(max_bytes + 1) if request.content else b""
    if len(raw) > max_bytes:
        raise HTTPError(413, f"the body is larger than {max_bytes} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPError(400, f"the body is not valid JSON: {e}") from None
    except RecursionError:
        raise HTTPError(400, "the body is nested too deeply") from None


class _JSONKlein(Klein):
    """
    A Klein app whose resource answers a URL that is not UTF-8 with a JSON
    400 (Klein's own answer is a bare text page).
    """

    def resource(self) -> KleinResource:
        return _JSONResource(self)


class _JSONResource(KleinResource):
    """
    The resource of a `_JSONKlein` app.
    """

    def render(self, request: IRequest) -> Any:
        try:
            b"/".join(request.prepath + request.postpath).decode("utf-8")
            request.getRequestHostname().decode("utf-8")
        except UnicodeDecodeError:
            return json_error(request, 400, "the URL is not valid UTF-8")
        return super().render(request)


E = TypeVar("E", bound=BaseException)


def _value(failure: Failure, kind: type[E]) -> E:
    """
    The exception a failure holds, known to be of ``kind`` (the error
    handler was registered for it).
    """
    error = failure.value
    assert isinstance(error, kind)
    return error


def http_error_body(request: IRequest, error: HTTPError) -> bytes:
    """
    The JSON answer of an expected error, with its headers.
    """
    for name, value in error.headers.items():
        request.setHeader(name.replace("_", "-"), value)
    return json_error(request, error.code, error.message)


def json_app() -> Klein:
    """
    A Klein app whose errors are answered as JSON.

    Routing misses (a path with an empty segment too) become 404, a
    branch's path without its final ``/`` a redirect, wrong methods 405
    with ``Allow``, ``HTTPError`` its own code, a database not open (yet or
    any more) 503 with ``Retry-After``, a URL that is not UTF-8 400, and
    anything unexpected is logged and answered with a generic 500.
    """
    app = _JSONKlein()
    # A path with an empty segment is no route; werkzeug would otherwise
    # redirect it to the path without, whatever that names.
    app.url_map.merge_slashes = False

    @app.handle_errors(HTTPError)
    def expected(request: IRequest, failure: Failure) -> bytes:
        return http_error_body(request, _value(failure, HTTPError))

    @app.handle_errors(NotFound)
    def not_found(request: IRequest, failure: Failure) -> bytes:
        return json_error(request, 404, "no such route")

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(request: IRequest, failure: Failure) -> bytes:
        allowed = _value(failure, MethodNotAllowed).valid_methods or []
        request.setHeader(b"allow", ", ".join(allowed).encode("ascii"))
        return json_error(request, 405, "method not allowed on this route")

    @app.handle_errors(RequestRedirect)
    def redirect(request: IRequest, failure: Failure) -> bytes:
        moved = _value(failure, RequestRedirect)
        request.setHeader(b"location", moved.new_url.encode("utf-8"))
        return json_error(request, moved.code, "this route ends with '/'")

    @app.handle_errors(HTTPException)
    def other_http(request: IRequest, failure: Failure) -> bytes:
        error = _value(failure, HTTPException)
        return json_error(
            request, error.code or 400, error.description or "bad request"
        )

    @app.handle_errors(DatabaseUnavailable)
    def unavailable(request: IRequest, failure: Failure) -> bytes:
        log.warn(
            "Answered {method} {path} with 503: {reason}",
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("ascii", "replace"),
            reason=failure.getErrorMessage(),
        )
        request.setHeader(b"retry-after", b"1")
        return json_error(
            request, 503, "the service is starting or stopping; retry shortly"
        )

    @app.handle_errors(Exception)
    def unexpected(request: IRequest, failure: Failure) -> bytes:
        log.failure(
            "Unexpected error answering {method} {path}",
            failure,
            method=request.method.decode("ascii", "replace"),
            path=request.path.decode("ascii", "replace"),
        )
        return json_error(request, 500, "internal error; see the service log")

    return app
