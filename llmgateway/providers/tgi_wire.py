"""Text Generation Inference's departures from OpenAI's chat format: tool-call turns, images and JSON grammars."""

from __future__ import annotations

from typing import Any

from llmgateway.providers.openai_wire import message_out
from llmgateway.providers.types import ChatRequest, Message


def tgi_message_out(message: Message) -> dict[str, Any]:
    """An assistant tool-call turn without `content` (TGI would read it as text and drop the calls); no `detail`."""
    out = message_out(message)
    if message.tool_calls and not message.content:
        out.pop("content", None)
    for part in out["content"] if isinstance(out.get("content"), list) else ():
        if part.get("type") == "image_url":
            part["image_url"].pop("detail", None)
    return out


def tgi_rich_fields(openai_fields: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
    """OpenAI's fields, less `parallel_tool_calls` (TGI makes one call), with `response_format` as a TGI grammar."""
    fields = dict(openai_fields)
    fields.pop("parallel_tool_calls", None)
    fmt = request.response_format
    if fmt is None:
        return fields
    if fmt.type == "text":
        fields.pop("response_format", None)
    elif fmt.type == "json_schema" and fmt.schema is not None:
        fields["response_format"] = {"type": "json_schema", "value": {"name": fmt.name, "schema": fmt.schema}}
    else:
        fields["response_format"] = {"type": "json_object", "value": {"type": "object"}}
    return fields
