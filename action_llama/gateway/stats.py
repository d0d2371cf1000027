"""
The protected ``/api/stats`` tree: trigger history and webhook receipts.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.web.iweb import IRequest

from ..store import Store
from ._json import HTTPError, json_app, json_body
from .webhooks import WebhookReceiver

#: ASCII digits, few enough to convert at once (``str.isdigit`` also takes
#: ``²``, and ``int`` refuses strings of thousands of digits).
_WHOLE = re.compile(r"[0-9]{1,12}")


def _int_arg(request: IRequest, name: str, default: int, low: int, high: int) -> int:
    """
    A whole-number query argument within ``[low, high]``.

    :raises HTTPError: 400 when it is not one.
    """
    values = request.args.get(name.encode("ascii")) if request.args else None
    if not values:
        return default
    raw = values[0].decode("utf-8", "replace")
    if not _WHOLE.fullmatch(raw) or not low <= int(raw) <= high:
        raise HTTPError(400, f"{name!r} must be a whole number from {low} to {high}")
    return int(raw)


def _bool_arg(request: IRequest, name: str) -> bool:
    """
    A ``true``/``false`` query argument (absent is false).

    :raises HTTPError: 400 for anything else.
    """
    values = request.args.get(name.encode("ascii")) if request.args else None
    if not values:
        return False
    raw = values[0].decode("utf-8", "replace").lower()
    if raw not in ("true", "false", "1", "0"):
        raise HTTPError(400, f"{name!r} must be true or false")
    return raw in ("true", "1")


def stats_resource(store: Store, receiver: WebhookReceiver) -> Any:
    """
    The ``/api/stats`` tree.
    """
    app = json_app()

    @app.route("/triggers", methods=["GET"])
    async def triggers(request: IRequest) -> bytes:
        page = _int_arg(request, "page", 1, 1, 10_000_000)
        limit = _int_arg(request, "limit", 50, 1, 100)
        dead_letter = _bool_arg(request, "deadLetter")
        rows, total = await store.list_triggers(page, limit, dead_letter)
        return json_body(
            request,
            {
                "triggers": [row.to_json() for row in rows],
                "total": total,
                "page": page,
                "limit": limit,
            },
        )

    @app.route("/webhooks/<receipt_id>", methods=["GET"])
    async def receipt(request: IRequest, receipt_id: str) -> bytes:
        return json_body(request, await receiver.detail(receipt_id))

    return app.resource()
