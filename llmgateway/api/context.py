"""Per-request ids and access to the current usage call."""

from __future__ import annotations

import re
import uuid

from flask import g, request

from llmgateway.core.usage import UsageCall

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def assign_request_ids() -> None:
    """The gateway's own UUID, and the client's X-Request-ID when it is sane (else the same UUID)."""
    g.request_id = str(uuid.uuid4())
    client = request.headers.get("X-Request-ID", "")
    g.client_request_id = client if _SANE_REQUEST_ID.match(client) else g.request_id


def current_call() -> UsageCall:
    """The usage call opened for this request by the authentication hook."""
    return g.usage_call
