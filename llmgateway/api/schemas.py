"""Schemas shared by several blueprints: the error envelope, usage, and request-shape limits."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

MAX_METADATA_BYTES = 16 * 1024
#: Body fields that would redirect traffic or credentials: always refused, on every surface.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "organization",
        "headers",
        "extra_headers",
        "default_headers",
        "extra_query",
        "extra_body",
        "azure_endpoint",
        "proxy",
        "custom_llm_provider",
    }
)


def limit(name: str) -> int:
    """A configured input limit (config `limits`)."""
    return current_app.config[f"LLMGATEWAY_{name.upper()}"]


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "invalid_request"})
    type = fields.String(required=True)
    message = fields.String(required=True)
    param = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)


class ErrorSchema(Schema):
    """The one error envelope (OpenAI-compatible)."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class PromptTokensDetailsSchema(Schema):
    cached_tokens = fields.Integer(metadata={"description": "Prompt tokens read from the provider's prompt cache."})
    cache_write_tokens = fields.Integer(metadata={"description": "Prompt tokens written to the provider's cache."})
    cache_creation_tokens = fields.Integer(
        metadata={"description": "The same as cache_write_tokens (SPEC name), present when there were writes."}
    )


class CompletionTokensDetailsSchema(Schema):
    reasoning_tokens = fields.Integer(metadata={"description": "Completion tokens spent reasoning (included)."})


class UsageSchema(Schema):
    prompt_tokens = fields.Integer(required=True)
    completion_tokens = fields.Integer()
    total_tokens = fields.Integer(required=True)
    prompt_tokens_details = fields.Nested(PromptTokensDetailsSchema)
    completion_tokens_details = fields.Nested(CompletionTokensDetailsSchema)
    cost_usd = fields.Float(metadata={"description": "The gateway's price of this call in USD (0 for a cache hit)."})
    estimated = fields.Boolean(metadata={"description": "Present and true when the gateway counted the tokens."})


class ToolCallFunctionSchema(Schema):
    name = fields.String()
    arguments = fields.String(metadata={"description": "The call's arguments as JSON text."})


class ToolCallSchema(Schema):
    id = fields.String()
    type = fields.String(metadata={"example": "function"})
    function = fields.Nested(ToolCallFunctionSchema)


class ResponseMessageSchema(Schema):
    role = fields.String()
    content = fields.String(allow_none=True, metadata={"description": "Text, or JSON text for response_format."})
    tool_calls = fields.List(
        fields.Nested(ToolCallSchema),
        metadata={"description": "Present when the model called tools (finish_reason tool_calls)."},
    )


class ChoiceSchema(Schema):
    index = fields.Integer()
    message = fields.Nested(ResponseMessageSchema)
    logprobs = fields.Raw(allow_none=True)
    finish_reason = fields.String(allow_none=True)


class ChatCompletionBaseSchema(Schema):
    """OpenAI's chat.completion fields, shared by both surfaces."""

    id = fields.String()
    object = fields.String(metadata={"example": "chat.completion"})
    created = fields.Integer()
    model = fields.String(metadata={"description": "The gateway model id that answered."})
    choices = fields.List(fields.Nested(ChoiceSchema))
    usage = fields.Nested(UsageSchema)


class ChunkBaseSchema(Schema):
    """OpenAI's chat.completion.chunk fields, shared by both surfaces."""

    id = fields.String()
    object = fields.String(metadata={"example": "chat.completion.chunk"})
    created = fields.Integer()
    model = fields.String()
    choices = fields.List(fields.Dict())
    usage = fields.Nested(UsageSchema, allow_none=True)


class EmbeddingUsageSchema(Schema):
    prompt_tokens = fields.Integer()
    total_tokens = fields.Integer()
    cost_usd = fields.Float(metadata={"description": "The gateway's price of this call in USD (0 for a cache hit)."})
    estimated = fields.Boolean(metadata={"description": "Present and true when the gateway counted the tokens."})


class StopField(fields.Field):
    """`stop`: a string or a list of up to 4 strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            values = value
        else:
            raise ValidationError("must be a string or a list of strings")
        if not 1 <= len(values) <= 4 or any(not v or len(v) > 256 for v in values):
            raise ValidationError("must hold 1 to 4 non-empty sequences of at most 256 characters")
        return tuple(values)


class MetadataField(fields.Dict):
    """Free-form metadata stored in the ledger (never forwarded); size-capped."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        import orjson

        if len(orjson.dumps(result)) > MAX_METADATA_BYTES:
            raise ValidationError(f"must serialize to at most {MAX_METADATA_BYTES} bytes")
        return result


def validate_max_tokens(value: int) -> None:
    if value < 1 or value > limit("max_tokens"):
        raise ValidationError(f"must be between 1 and {limit('max_tokens')}")


def validate_messages_count(value: list[Any]) -> None:
    if not value:
        raise ValidationError("must hold at least one message")
    if len(value) > limit("max_messages"):
        raise ValidationError(f"must hold at most {limit('max_messages')} messages")


def validate_inputs_count(value: Any) -> None:
    if isinstance(value, list) and len(value) > limit("max_embedding_inputs"):
        raise ValidationError(f"must hold at most {limit('max_embedding_inputs')} inputs")


model_field = fields.String(
    required=True, validate=validate.Length(min=1, max=256), metadata={"example": "openai.gpt-4o-mini"}
)
