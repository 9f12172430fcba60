"""What a chat request needs of a model (tools, vision, json_schema) and whether a route's catalogue entry has it."""

from __future__ import annotations

from llmgateway.core.routing import Route
from llmgateway.errors import UnsupportedOperation
from llmgateway.providers.types import ChatRequest

#: The capability each rich feature needs, as listed in the catalogue.
TOOLS, VISION, JSON_SCHEMA = "tools", "vision", "json_schema"


def needed_capabilities(request: ChatRequest) -> dict[str, str]:
    """Each capability the request needs, with the request field (`param`) that needs it."""
    needs: dict[str, str] = {}
    if request.tools:
        needs[TOOLS] = "tools"
    else:
        for i, message in enumerate(request.messages):
            if message.tool_calls or message.role == "tool":
                needs[TOOLS] = f"messages.{i}"
                break
    places = request.image_places()
    if places:
        needs[VISION] = places[0][0]
    if request.response_format is not None and request.response_format.type == "json_schema":
        needs[JSON_SCHEMA] = "response_format"
    return needs


def missing_capability(route: Route, needs: dict[str, str]) -> tuple[str, str] | None:
    """The first (capability, param) the route's model lacks; a model of unknown capabilities lacks nothing."""
    if route.capabilities is None:
        return None
    for capability, param in needs.items():
        if capability not in route.capabilities:
            return capability, param
    return None


def require_capabilities(route: Route, needs: dict[str, str]) -> None:
    """400 unsupported_operation naming the field when the chosen model cannot serve the request."""
    missing = missing_capability(route, needs)
    if missing is not None:
        capability, param = missing
        raise UnsupportedOperation(
            f"The model '{route.model_id}' does not support {capability.replace('_', ' ')} (needed by '{param}').",
            param=param,
        )


def capable_routes(routes: list[Route], needs: dict[str, str]) -> list[Route]:
    """The routes (primary first, then fallbacks) whose models can serve the request."""
    if not needs:
        return routes
    return [route for route in routes if missing_capability(route, needs) is None]
