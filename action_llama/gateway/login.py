"""
Logging in and out of the gateway.

``GET /login`` serves the form (or, with ``?token=``, consumes a one-time
login link); ``POST /login`` takes the key from the form; ``POST
/api/auth/login`` and ``POST /api/auth/logout`` are the JSON twins for
scripts; ``POST /logout`` ends the session from a page; ``POST
/api/auth/link`` (authenticated) issues a one-time link, for ``al
dashboard``.

Every login starts a new session with a new id, set as the ``al_session``
cookie. Failed attempts are counted per client address, and too many of
them get 429 for a while. The key is never echoed: not in a page, a cookie,
a redirect, an error or a log line.
"""

from __future__ import annotations

import html
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from attrs import frozen
from klein import Klein
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from ._json import HTTPError, json_app, json_body, read_json
from .auth import SESSION_COOKIE, Authenticator, KeyWatcher, Protected, foreign
from .sessions import LoginLinks, Sessions

log = Logger(namespace="action_llama.gateway.login")

MAX_FAILURES = 5
"""
Failed logins one client address may make within ``FAILURE_WINDOW``.
"""

FAILURE_WINDOW = 300.0
"""
Seconds over which failed logins are counted.
"""

_MAX_FORM_BYTES = 16 * 1024

_WRONG_KEY = "That is not the gateway API key; check it and try again."
_BAD_LINK = (
    "This login link has been used already or has expired; run `al dashboard` "
    "for a new one, or log in with the key."
)


class LoginThrottle:
    """
    Counts failed logins per client address, and says how long a client that
    failed too often must wait.

    Memory is bounded: a client is forgotten once its last failure has left
    the window, and past ``max_clients`` the client that failed longest ago
    is forgotten first.

    :param clock: the source of time.
    :param max_failures: failures allowed within ``window``.
    :param window: seconds over which failures are counted.
    :param max_clients: clients remembered at most.
    """

    def __init__(
        self,
        clock: IReactorTime,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        max_clients: int = 10_000,
    ) -> None:
        self._clock = clock
        self._max_failures = max_failures
        self._window = window
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int | None:
        """
        Whole seconds ``client`` must wait before its next attempt, or
        ``None`` if it may try now.
        """
        failures = self._failures.get(client)
        if failures is None or len(failures) < self._max_failures:
            return None
        wait = failures[0] + self._window - self._clock.seconds()
        return math.ceil(wait) if wait > 0 else None

    def failed(self, client: str) -> None:
        """
        Count a failed attempt by ``client``.
        """
        now = self._clock.seconds()
        self._forget_before(now - self._window)
        failures = self._failures.pop(client, None) or deque(maxlen=self._max_failures)
        failures.append(now)
        self._failures[client] = failures
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        """
        Forget ``client``'s failures: it has logged in.
        """
        self._failures.pop(client, None)

    def __len__(self) -> int:
        """
        How many clients are remembered.
        """
        return len(self._failures)

    def _forget_before(self, cutoff: float) -> None:
        """
        Forget the clients whose last failure came before ``cutoff``; they
        are the oldest entries, as each failure moves its client to the end.
        """
        while self._failures:
            client, failures = next(iter(self._failures.items()))
            if failures[-1] >= cutoff:
                return
            del self._failures[client]


@frozen
class Login:
    """
    What the login routes work with.

    :ivar keys: the API key.
    :ivar sessions: the login sessions.
    :ivar links: the one-time login links.
    :ivar throttle: the count of failed attempts.
    :ivar exposed: whether the gateway listens beyond loopback, in which case
        the cookie is always ``Secure`` (it should be reached over TLS).
    """

    keys: KeyWatcher
    sessions: Sessions
    links: LoginLinks
    throttle: LoginThrottle
    exposed: bool


def link_url(base: str, token: str) -> str:
    """
    The one-time login link for ``token`` on the gateway at ``base``.
    """
    return f"{base}/login?token={token}"


def add_login_routes(app: Klein, login: Login, auth: Authenticator) -> None:
    """
    Add ``/login``, ``/logout`` and ``/api/auth/*`` to ``app``.

    :param login: what the routes work with.
    :param auth: guards ``POST /api/auth/link``.
    """
    link_tree = Protected(_link_resource(login), auth)

    @app.route("/login", methods=["GET"])
    async def form(request: IRequest) -> bytes:
        token = request.args.get(b"token", [b""])[0]
        if not token:
            return _login_page(request, 200)
        try:
            await _log_in(
                request,
                login,
                "link",
                lambda: login.links.consume(token.decode("ascii", "replace")),
                _BAD_LINK,
            )
        except HTTPError as e:
            return _login_page(request, e.code, e.message, e.headers)
        return _see_other(request, b"/dashboard")

    @app.route("/login", methods=["POST"])
    async def submit(request: IRequest) -> bytes:
        try:
            key = _form_key(request)
            await _log_in(
                request,
                login,
                "form",
                lambda: succeed(login.keys.matches(key)),
                _WRONG_KEY,
            )
        except HTTPError as e:
            return _login_page(request, e.code, e.message, e.headers)
        return _see_other(request, b"/dashboard")

    @app.route("/api/auth/login", methods=["POST"])
    async def api_login(request: IRequest) -> bytes:
        body = read_json(request)
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str):
            raise HTTPError(400, 'send {"key": "<the gateway API key>"}')
        candidate = key.strip().encode("utf-8")
        await _log_in(
            request,
            login,
            "api",
            lambda: succeed(login.keys.matches(candidate)),
            _WRONG_KEY,
        )
        return json_body(request, {"ok": True})

    @app.route("/logout", methods=["POST"])
    async def logout(request: IRequest) -> bytes:
        await _log_out(request, login)
        return _see_other(request, b"/login")

    @app.route("/api/auth/logout", methods=["POST"])
    async def api_logout(request: IRequest) -> bytes:
        await _log_out(request, login)
        return json_body(request, {"ok": True})

    @app.route("/api/auth/link", methods=["POST"])
    def link(request: IRequest) -> IResource:
        return link_tree


def _link_resource(login: Login) -> Any:
    """
    The ``POST /api/auth/link`` route, below the auth wrapper: it issues a
    one-time login link. The root app matches the path and method.
    """
    app = json_app()

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def issue(request: IRequest) -> bytes:
        token = await login.links.issue()
        return json_body(
            request,
            {
                "ok": True,
                "url": link_url(_base_url(request), token),
                "expiresIn": round(login.links.lifetime),
            },
        )

    return app.resource()


async def _log_in(
    request: IRequest,
    login: Login,
    how: str,
    proof: Callable[[], Deferred[bool]],
    wrong: str,
) -> None:
    """
    Start a session for ``request`` if ``proof`` holds, and set its cookie;
    the session the request came with, if any, ends.

    :param how: names the way of logging in, for the log.
    :param proof: says whether the request proved it may log in.
    :param wrong: the message for a failed proof.
    :raises HTTPError: 429 with ``Retry-After`` if the client failed too
        often lately, 401 with ``wrong`` if the proof failed.
    """
    client = _client(request)
    wait = login.throttle.retry_after(client)
    if wait is not None:
        raise HTTPError(
            429,
            f"Too many failed logins from your address; try again in {wait} seconds.",
            retry_after=str(wait),
        )
    if not await proof():
        login.throttle.failed(client)
        log.warn("A login by {how} from {client} failed", how=how, client=client)
        raise HTTPError(401, wrong)
    login.throttle.succeeded(client)
    previous = request.getCookie(SESSION_COOKIE)
    if previous:
        await login.sessions.end(previous.decode("ascii", "replace"))
    session_id = await login.sessions.create()
    request.responseHeaders.addRawHeader(
        b"set-cookie", _cookie(session_id, _secure(request, login))
    )
    log.info("Logged in by {how} from {client}", how=how, client=client)


async def _log_out(request: IRequest, login: Login) -> None:
    """
    End the session ``request`` came with, if any, and clear its cookie.

    :raises HTTPError: 403 if the request came with the cookie from another
        site.
    """
    cookie = request.getCookie(SESSION_COOKIE)
    if cookie:
        reason = foreign(request)
        if reason is not None:
            raise HTTPError(
                403,
                f"this request came from another site ({reason}); log out from "
                "the dashboard's own pages",
            )
        await login.sessions.end(cookie.decode("ascii", "replace"))
    request.responseHeaders.addRawHeader(
        b"set-cookie", _cookie("", _secure(request, login), clear=True)
    )


def _cookie(value: str, secure: bool, clear: bool = False) -> bytes:
    """
    The ``Set-Cookie`` value for the session cookie.

    :param clear: make the browser drop the cookie at once.
    """
    name = SESSION_COOKIE.decode("ascii")
    parts = [f"{name}={value}", "HttpOnly", "SameSite=Strict", "Path=/"]
    if secure:
        parts.append("Secure")
    if clear:
        parts.append("Max-Age=0")
    return "; ".join(parts).encode("ascii")


def _secure(request: IRequest, login: Login) -> bool:
    """
    Whether the cookie must be ``Secure``: the request came over TLS, or the
    gateway is exposed.
    """
    return login.exposed or request.isSecure()


def _client(request: IRequest) -> str:
    """
    The address failed logins are counted under.
    """
    address = request.getClientAddress()
    if isinstance(address, (IPv4Address, IPv6Address)):
        return address.host
    return "unknown"


def _base_url(request: IRequest) -> str:
    """
    How the client reached the gateway, as a URL without a path: its
    ``Host`` header if that is a plain host and port, else the address it
    connected to.
    """
    scheme = "https" if request.isSecure() else "http"
    host = (request.getHeader(b"host") or b"").decode("ascii", "replace")
    if not host or any(not (c.isalnum() or c in ".-:[]") for c in host):
        address = request.getHost()
        host = f"{address.host}:{address.port}"
    return f"{scheme}://{host}"


def _form_key(request: IRequest) -> bytes:
    """
    The key field of a form-encoded body (never of the query string, which
    browsers and proxies keep in history and logs).

    :raises HTTPError: 413 if the body is too large.
    """
    if request.content is None:
        return b""
    request.content.seek(0)
    raw = request.content.read(_MAX_FORM_BYTES + 1)
    if len(raw) > _MAX_FORM_BYTES:
        raise HTTPError(413, "The form is too large.")
    fields: dict[str, list[str]] = parse_qs(
        raw.decode("utf-8", "replace"), max_num_fields=10
    )
    return fields.get("key", [""])[0].strip().encode("utf-8")


def _see_other(request: IRequest, location: bytes) -> bytes:
    """
    Answer with a redirect to ``location`` that the browser follows with GET.
    """
    request.setResponseCode(303)
    request.setHeader(b"location", location)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"referrer-policy", b"no-referrer")
    return b'<a href="' + location + b'">Continue</a>'


_CSP = (
    b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'"
)

_PAGE_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · action-llama</title>
<style>
:root {
  color-scheme: light dark;
  --fg: #1b1f24; --bg: #f3f4f6; --card: #fff; --muted: #57606a;
  --accent: #0b5cad; --on-accent: #fff; --err-bg: #fdecea; --err-fg: #8a1c12;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --bg: #0d1117; --card: #161b22; --muted: #9da7b3;
    --accent: #79b8ff; --on-accent: #0d1117; --err-bg: #3d1512; --err-fg: #ffb4ab;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; min-height: 100vh; display: flex; align-items: center;
  justify-content: center; padding: 1rem; background: var(--bg); color: var(--fg);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main {
  width: 100%; max-width: 26rem; background: var(--card); padding: 1.5rem;
  border-radius: .75rem; box-shadow: 0 1px 3px rgb(0 0 0 / .2);
}
h1 { font-size: 1.375rem; margin: 0 0 .5rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input, button { width: 100%; font: inherit; padding: .625rem .75rem; }
input {
  border: 1px solid var(--muted); border-radius: .5rem;
  background: transparent; color: inherit;
}
button {
  margin-top: 1rem; border: 0; border-radius: .5rem; font-weight: 600;
  background: var(--accent); color: var(--on-accent); cursor: pointer;
}
input:focus-visible, button:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px;
}
.message {
  margin: 1rem 0 0; padding: .625rem .75rem; border-radius: .5rem;
  background: var(--err-bg); color: var(--err-fg);
}
.help { color: var(--muted); font-size: .9375rem; }
code { font-family: ui-monospace, Menlo, monospace; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
<h1>action-llama</h1>
<p class="help">Log in with the gateway API key to open the dashboard.</p>
"""

_PAGE_FORM = """<form method="post" action="/login">
<label for="key">API key</label>
<input id="key" name="key" type="password" required autocomplete="current-password"
 autocapitalize="off" spellcheck="false"{described}>
<button type="submit">Log in</button>
</form>
<p class="help">The key is in
<code>~/.action-llama/credentials/gateway_api_key/default/key</code> on the machine
that runs the gateway (<code>al doctor</code> shows it). Or run
<code>al dashboard</code> there: it prints a one-time login link.</p>
</main>
</body>
</html>
"""


def _login_page(
    request: IRequest,
    code: int,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """
    Answer with the login form, and ``message`` above it if given.

    :param headers: further response headers, ``_`` standing for ``-`` in
        their names.
    """
    request.setResponseCode(code)
    for name, value in (headers or {}).items():
        request.setHeader(name.replace("_", "-"), value)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-security-policy", _CSP)
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"referrer-policy", b"no-referrer")
    shown = ""
    described = ""
    if message is not None:
        text = html.escape(message)
        shown = f'<p class="message" id="message" role="alert">{text}</p>\n'
        described = ' aria-describedby="message"'
    page = _PAGE_HEAD + shown + _PAGE_FORM.replace("{described}", described)
    return page.encode("utf-8")
