"""Request-body parsing for every route: fast JSON, shape limits, and validation errors in our envelope."""

from __future__ import annotations

from typing import Any, NoReturn, cast

import orjson
from flask import Flask, Request, current_app
from flask.json.provider import JSONProvider
from marshmallow import ValidationError
from webargs.flaskparser import FlaskParser

from llmgateway.config import first_error
from llmgateway.errors import InvalidRequest, UnsupportedMediaType


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether nesting goes deeper than `limit` (iterative, so hostile input cannot exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return False


def load_json_body(request: Request) -> Any:
    """The request's JSON body, parsed once and checked against the nesting limit."""
    cached = request.environ.get("llmgateway.json")
    if cached is not None:
        return cached[0]
    if not request.is_json:
        raise UnsupportedMediaType(param=None)
    data = request.get_data(cache=True)
    try:
        value = orjson.loads(data) if data else None
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc.msg}.") from exc
    if value is None:
        raise InvalidRequest("The request body is empty.")
    if json_depth_exceeds(value, current_app.config["LLMGATEWAY_MAX_JSON_DEPTH"]):
        raise InvalidRequest("The JSON body is nested too deeply.")
    request.environ["llmgateway.json"] = (value,)
    return value


#: The locations webargs nests its error messages under.
LOCATIONS = frozenset(
    {"json", "query", "querystring", "form", "headers", "cookies", "files", "view_args", "path", "json_or_form"}
)


class GatewayArgumentsParser(FlaskParser):
    """webargs parser that reads bodies through `load_json_body` and raises `InvalidRequest` (400)."""

    def _raw_load_json(self, req: Request) -> Any:
        return load_json_body(req)

    def handle_error(
        self, error: ValidationError, req: Request, schema: Any, *, error_status_code: Any, error_headers: Any
    ) -> NoReturn:
        messages = error.messages
        if isinstance(messages, dict) and messages and set(messages) <= LOCATIONS:
            # webargs nests errors by location ({"query": {"startDate": [...]}}): `param` names what the client
            # sent (`startDate`), never where webargs read it from.
            messages = next(iter(messages.values()))
        param, message = first_error(messages)
        text = f"{param}: {message}" if param else message
        raise InvalidRequest(text, param=param)


class OrjsonProvider(JSONProvider):
    """Flask JSON provider backed by orjson (fast; non-str keys and datetimes handled)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Any:
        obj = self._prepare_response_obj(args, kwargs)
        app = cast(Flask, self._app)  # a JSON provider is only ever bound to a Flask app here
        return app.response_class(
            orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS), mimetype="application/json"
        )
