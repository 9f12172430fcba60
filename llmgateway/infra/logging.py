"""Structured JSON logs (structlog): one line per event, values escaped so no client input forges a line."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import orjson
import structlog

REQUEST_LOGGER = "llmgateway.request"


def _serialize(event: dict[str, Any], **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def _add_pid(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("pid", os.getpid())  # tells gunicorn workers apart
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _add_pid,
]


def log_handler(fmt: str = "json") -> logging.Handler:
    """A stderr handler rendering every record as one JSON line (or for a console); gunicorn.conf.py uses it too."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_serialize)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder(), structlog.processors.format_exc_info],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler._llmgateway = True  # type: ignore[attr-defined]  # replaced, not stacked, when reconfigured
    return handler


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer on stderr."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = log_handler(fmt)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_llmgateway", False)]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


_request_logger: Any = None


def request_logger() -> Any:
    """The request logger, built once (structlog's lazy proxy re-resolves the stdlib logger on every call)."""
    global _request_logger
    if _request_logger is None:
        _request_logger = structlog.get_logger(REQUEST_LOGGER).bind()
    return _request_logger
