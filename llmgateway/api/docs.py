"""The OpenAPI document: the smorest Api and Blueprint with our error envelope and parser, and error docs."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import flask_smorest

from llmgateway.api.parsing import GatewayArgumentsParser
from llmgateway.api.schemas import ErrorSchema

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose arguments are parsed by the gateway's parser (bodies through
    `load_json_body`, errors as 400 envelopes): the subclass flask-smorest documents for a custom parser."""

    ARGUMENTS_PARSER = GatewayArgumentsParser()


class GatewayApi(flask_smorest.Api):
    """flask-smorest Api whose documented error body is the gateway's envelope (api/error_handlers.py renders
    it: the app-level HTTPException handler registered after init_app replaces smorest's)."""

    ERROR_SCHEMA = ErrorSchema

    def register_blueprint(self, blp: flask_smorest.Blueprint, **options: Any) -> None:
        if not isinstance(blp, Blueprint):  # a plain smorest Blueprint would parse arguments its own way
            raise TypeError(f"blueprint {blp.name!r} must be a llmgateway.api.docs.Blueprint")
        super().register_blueprint(blp, **options)


def error_responses(*statuses: int) -> Callable[[F], F]:
    """Document error envelopes for the given statuses on a view."""

    def decorator(func: F) -> F:
        doc = func.__dict__.setdefault("_apidoc", {})
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        for status in statuses:
            responses.setdefault(status, []).append(HTTPStatus(status).name)
        return func

    return decorator
