"""The OpenAPI document: the smorest Api with our error envelope, and helpers to document errors."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask_smorest import Api, Blueprint
from werkzeug.exceptions import HTTPException

from llmgateway.api.error_handlers import handle_http_exception
from llmgateway.api.parsing import GatewayArgumentsParser
from llmgateway.api.schemas import ErrorSchema

F = TypeVar("F", bound=Callable[..., Any])

Blueprint.ARGUMENTS_PARSER = GatewayArgumentsParser()


class GatewayApi(Api):
    """flask-smorest Api whose documented and actual error body is the gateway's envelope."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return handle_http_exception(error)


def error_responses(*statuses: int) -> Callable[[F], F]:
    """Document error envelopes for the given statuses on a view."""

    def decorator(func: F) -> F:
        doc = func.__dict__.setdefault("_apidoc", {})
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        for status in statuses:
            responses.setdefault(status, []).append(HTTPStatus(status).name)
        return func

    return decorator
