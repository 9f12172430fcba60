"""Anthropic Messages request and response shapes for the OpenAPI document; validation is in translate.py."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

BLOCKS = (
    "A string, or content blocks: text, image (base64/url), tool_use (assistant), tool_result (user), "
    "thinking and redacted_thinking (assistant; passed to Anthropic untouched)."
)


class AnthropicMessageInSchema(Schema):
    role = fields.String(required=True, metadata={"enum": ["user", "assistant"]})
    content = fields.Raw(required=True, metadata={"description": BLOCKS})


class MessagesRequestSchema(Schema):
    """POST /v1/messages (Anthropic's MessageCreateParams); fields not read by the gateway reach Anthropic."""

    class Meta:
        unknown = INCLUDE

    model = fields.Raw(required=True, metadata={"type": "string", "example": "claude-sonnet-4-5"})
    max_tokens = fields.Raw(required=True, metadata={"type": "integer", "minimum": 1})
    messages = fields.Raw(
        required=True,
        metadata={"type": "array", "items": {"type": "object"}, "description": "user/assistant turns; " + BLOCKS},
    )
    system = fields.Raw(metadata={"description": "A string or a list of text blocks."})
    stop_sequences = fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    temperature = fields.Raw(metadata={"type": "number"})
    top_p = fields.Raw(metadata={"type": "number"})
    top_k = fields.Raw(metadata={"type": "integer"})
    stream = fields.Raw(metadata={"type": "boolean"})
    metadata = fields.Raw(metadata={"type": "object", "description": "`user_id` is the ledger's user."})
    tools = fields.Raw(metadata={"type": "array", "items": {"type": "object"}})
    tool_choice = fields.Raw(metadata={"type": "object"})


class CountTokensRequestSchema(Schema):
    """POST /v1/messages/count_tokens: the Messages body without max_tokens."""

    class Meta:
        unknown = INCLUDE

    model = fields.Raw(required=True, metadata={"type": "string"})
    messages = fields.Raw(required=True, metadata={"type": "array", "items": {"type": "object"}})
    system = fields.Raw()
    tools = fields.Raw(metadata={"type": "array", "items": {"type": "object"}})


class AnthropicUsageSchema(Schema):
    input_tokens = fields.Integer()
    output_tokens = fields.Integer()
    cache_creation_input_tokens = fields.Integer(allow_none=True)
    cache_read_input_tokens = fields.Integer(allow_none=True)


class AnthropicMessageSchema(Schema):
    """Anthropic's `Message`."""

    id = fields.String(metadata={"example": "msg_0f1e2d3c"})
    type = fields.String(metadata={"example": "message"})
    role = fields.String(metadata={"example": "assistant"})
    model = fields.String()
    content = fields.List(fields.Dict())
    stop_reason = fields.String(allow_none=True)
    stop_sequence = fields.String(allow_none=True)
    usage = fields.Nested(AnthropicUsageSchema)


class AnthropicEventSchema(Schema):
    """One SSE event (`event: <type>` + `data: <json>`): message_start, content_block_start/delta/stop, ping,
    message_delta, message_stop, or error."""

    type = fields.String()


class CountTokensSchema(Schema):
    input_tokens = fields.Integer()


class AnthropicErrorDetailSchema(Schema):
    type = fields.String(metadata={"example": "invalid_request_error"})
    message = fields.String()


class AnthropicErrorSchema(Schema):
    """Anthropic's error body."""

    type = fields.String(metadata={"example": "error"})
    error = fields.Nested(AnthropicErrorDetailSchema)
    request_id = fields.String(allow_none=True)
