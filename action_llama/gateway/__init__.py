"""
The gateway: one HTTP server for webhooks, the dashboard, the control and
status APIs, and the routes running agents use.

Each part is a Klein route tree; ``build_root`` composes them under one
``Resource`` that becomes the ``Site``.
"""

from ._site import GatewayRoot, GatewaySite, build_root, build_run_root

__all__ = ["GatewayRoot", "GatewaySite", "build_root", "build_run_root"]
