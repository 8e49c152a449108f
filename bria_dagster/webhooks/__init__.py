"""Bria webhook receiver: verify deliveries and record them in the ledger (no status polls).

:func:`create_webhook_app` builds the ASGI app, :class:`WebhookServer` serves it in a thread
(tests, notebooks), and the ``bria-webhooks`` command serves it on a port.
"""

from bria_dagster.webhooks.app import HEALTH_PATH, WEBHOOK_PATH, WebhookApp, create_webhook_app
from bria_dagster.webhooks.delivery import Action, DeliveryOutcome, apply_delivery
from bria_dagster.webhooks.server import WebhookServer

__all__ = [
    "HEALTH_PATH",
    "WEBHOOK_PATH",
    "Action",
    "DeliveryOutcome",
    "WebhookApp",
    "WebhookServer",
    "apply_delivery",
    "create_webhook_app",
]
