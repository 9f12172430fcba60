"""Completion request and response schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate, validates_schema

from llmgateway.api.calls import ChatCall
from llmgateway.api.chat_fields import (
    MessagesField,
    ResponseFormatField,
    ToolChoiceField,
    ToolsField,
    check_tool_choice,
)
from llmgateway.api.schemas import (
    ChatCompletionBaseSchema,
    ChunkBaseSchema,
    MetadataField,
    StopField,
    model_field,
    validate_max_tokens,
)
from llmgateway.core.options import CallOptions
from llmgateway.providers.types import ChatRequest


class CompletionRequestSchema(Schema):
    """A chat completion request; unknown fields are rejected."""

    model = model_field
    messages = MessagesField(
        required=True,
        metadata={
            "description": "OpenAI's messages: system/developer/user/assistant/tool; content a string or "
            "text and image_url parts; assistant tool_calls; tool messages with tool_call_id."
        },
    )
    tools = ToolsField(allow_none=True)
    tool_choice = ToolChoiceField(allow_none=True)
    parallel_tool_calls = fields.Boolean(allow_none=True)
    response_format = ResponseFormatField(allow_none=True)
    temperature = fields.Float(allow_none=True, validate=validate.Range(min=0, max=2))
    max_tokens = fields.Integer(allow_none=True, validate=validate_max_tokens)
    top_p = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    stop = StopField(allow_none=True)
    user = fields.String(allow_none=True, validate=validate.Length(max=256))
    cache = fields.Boolean(allow_none=True)
    metadata = MetadataField(keys=fields.String(), allow_none=True)
    stream = fields.Boolean(
        allow_none=True, metadata={"description": "Ignored: the route decides whether the answer is streamed."}
    )

    @validates_schema
    def check_tools(self, data: dict[str, Any], **_: Any) -> None:
        check_tool_choice(data)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ChatCall:
        request = ChatRequest(
            model=data["model"],
            messages=data["messages"],
            tools=data.get("tools") or (),
            tool_choice=data.get("tool_choice"),
            parallel_tool_calls=data.get("parallel_tool_calls"),
            response_format=data.get("response_format"),
            temperature=data.get("temperature"),
            max_tokens=data.get("max_tokens"),
            top_p=data.get("top_p"),
            stop=data.get("stop") or (),
            user=data.get("user"),
        )
        return ChatCall(request, CallOptions(cache=data.get("cache"), metadata=data.get("metadata")))


class ChatCompletionSchema(ChatCompletionBaseSchema):
    """OpenAI's chat.completion plus the gateway's fields."""

    provider = fields.String()
    provider_model = fields.String()
    cached = fields.Boolean()
    fallback_from = fields.String(allow_none=True)


class ChunkSchema(ChunkBaseSchema):
    """One `data:` event of the stream: a chat.completion.chunk (the last one before [DONE] carries usage)."""

    provider = fields.String()
    fallback_from = fields.String(allow_none=True)
