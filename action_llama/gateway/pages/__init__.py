"""
The dashboard's pages: plain server-rendered HTML with the style and script
inlined, so there is no build step and nothing is loaded from elsewhere.
Each page is rendered with a fresh nonce that its ``Content-Security-Policy``
names, so only the page's own style and script apply.
"""

from ._views import (
    content_security_policy,
    logs_page,
    not_found_page,
    overview_page,
    run_page,
    triggers_page,
)

__all__ = [
    "content_security_policy",
    "logs_page",
    "not_found_page",
    "overview_page",
    "run_page",
    "triggers_page",
]
