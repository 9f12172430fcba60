"""Completion request and response schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from llmgateway.api.calls import ChatCall
from llmgateway.api.schemas import (
    ChatCompletionBaseSchema,
    ChunkBaseSchema,
    MetadataField,
    StopField,
    model_field,
    validate_max_tokens,
    validate_messages_count,
)
from llmgateway.core.options import CallOptions
from llmgateway.providers.types import ChatRequest, Message


class MessageSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(("system", "user", "assistant")))
    content = fields.String(required=True, validate=validate.Length(max=4_000_000))


class CompletionRequestSchema(Schema):
    """A chat completion request; unknown fields are rejected."""

    model = model_field
    messages = fields.List(fields.Nested(MessageSchema), required=True, validate=validate_messages_count)
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

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ChatCall:
        request = ChatRequest(
            model=data["model"],
            messages=tuple(Message(m["role"], m["content"]) for m in data["messages"]),
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
