"""OpenAI's request and response shapes, mapped onto the neutral ChatRequest and EmbeddingRequest.

Chat fields fall in four groups:
- first-class (every provider): model, messages, temperature, top_p, max_tokens / max_completion_tokens,
  stop, stream, stream_options, user, plus the gateway's own `metadata` and `cache`;
- translated for every provider (SPEC §8): tools, tool_choice, parallel_tool_calls, response_format, image
  parts, assistant tool calls and tool messages (api/chat_fields.py);
- refused everywhere: fields that would redirect traffic (api_base, base_url, headers, ...), and fields whose
  answer the gateway cannot relay (functions, audio, ...) unless they carry their neutral value;
- passed through untouched (n > 1, logprobs, top_logprobs, seed, presence_penalty, reasoning_effort, any other
  field):
  the pipeline forwards them to OpenAI-compatible providers and refuses them for the others (400).
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from llmgateway.api.calls import ChatCall, EmbeddingCall
from llmgateway.api.chat_fields import (
    MessagesField,
    ResponseFormatField,
    ToolChoiceField,
    ToolsField,
    check_tool_choice,
    is_neutral,
)
from llmgateway.api.embedding.schemas import INPUT_TYPES, InputField
from llmgateway.api.schemas import (
    FORBIDDEN_FIELDS,
    ChatCompletionBaseSchema,
    ChunkBaseSchema,
    EmbeddingUsageSchema,
    MetadataField,
    StopField,
    model_field,
    validate_max_tokens,
)
from llmgateway.core.options import CallOptions
from llmgateway.providers.types import ChatRequest, EmbeddingRequest

#: Request fields whose answer the gateway cannot relay, with their neutral values, which are accepted and not
#: forwarded.
UNRELAYABLE_FIELDS: dict[str, tuple[Any, ...]] = {
    "functions": (None, []),
    "function_call": (None, "none"),
    "audio": (None,),
    "modalities": (None, ["text"]),
}
#: Passed-through fields whose neutral values are not forwarded (so they reach no provider that cannot take them).
NEUTRAL_PASSTHROUGH: dict[str, tuple[Any, ...]] = {"logprobs": (False,), "top_logprobs": (0,), "n": (1,)}


class StreamOptionsSchema(Schema):
    include_usage = fields.Boolean(allow_none=True)
    #: Accepted for compatibility; the gateway's own chunks carry no obfuscation padding.
    include_obfuscation = fields.Boolean(allow_none=True)


class ChatCompletionsRequestSchema(Schema):
    """POST /v1/chat/completions; fields not declared here are passed through (see the module docstring)."""

    class Meta:
        unknown = INCLUDE

    model = model_field
    messages = MessagesField(required=True)
    tools = ToolsField(allow_none=True)
    tool_choice = ToolChoiceField(allow_none=True)
    parallel_tool_calls = fields.Boolean(allow_none=True)
    response_format = ResponseFormatField(allow_none=True)
    temperature = fields.Float(allow_none=True, validate=validate.Range(min=0, max=2))
    top_p = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    max_tokens = fields.Integer(allow_none=True, validate=validate_max_tokens)
    max_completion_tokens = fields.Integer(allow_none=True, validate=validate_max_tokens)
    stop = StopField(allow_none=True)
    stream = fields.Boolean(allow_none=True)
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    n = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=128),
        metadata={"description": "Above 1 only for OpenAI-compatible providers (others: 400)."},
    )
    user = fields.String(allow_none=True, validate=validate.Length(max=256))
    metadata = MetadataField(
        keys=fields.String(),
        allow_none=True,
        metadata={"description": "Stored in the gateway's ledger with the request; never forwarded."},
    )
    cache = fields.Boolean(allow_none=True, metadata={"description": "Gateway response cache opt-in/opt-out."})

    @validates_schema
    def check_fields(self, data: dict[str, Any], **_: Any) -> None:
        for name, value in data.items():
            if name in self.fields:
                continue
            if name in FORBIDDEN_FIELDS:
                raise ValidationError({name: ["is not allowed: the gateway decides where requests go"]})
            neutral = UNRELAYABLE_FIELDS.get(name)
            if neutral is not None and not is_neutral(value, neutral):
                raise ValidationError({name: ["is not supported by the gateway"]})
        budget, completion = data.get("max_tokens"), data.get("max_completion_tokens")
        if budget is not None and completion is not None and budget != completion:
            raise ValidationError({"max_completion_tokens": ["differs from max_tokens; send one of them"]})
        if data.get("stream_options") is not None and not data.get("stream"):
            raise ValidationError({"stream_options": ["is only allowed when stream is true"]})
        check_tool_choice(data)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ChatCall:
        extra = {
            name: value
            for name, value in data.items()
            if (name not in self.fields or name == "n")
            and value is not None
            and name not in UNRELAYABLE_FIELDS
            and not is_neutral(value, NEUTRAL_PASSTHROUGH.get(name, ()))
        }
        budget = data.get("max_completion_tokens")
        stream_options = data.get("stream_options") or {}
        return ChatCall(
            request=ChatRequest(
                model=data["model"],
                messages=data["messages"],
                temperature=data.get("temperature"),
                max_tokens=budget if budget is not None else data.get("max_tokens"),
                top_p=data.get("top_p"),
                stop=data.get("stop") or (),
                user=data.get("user"),
                extra=extra,
                tools=data.get("tools") or (),
                tool_choice=data.get("tool_choice"),
                parallel_tool_calls=data.get("parallel_tool_calls"),
                response_format=data.get("response_format"),
            ),
            options=CallOptions(cache=data.get("cache"), metadata=data.get("metadata")),
            stream=bool(data.get("stream")),
            include_usage=bool(stream_options.get("include_usage")),
        )


class OpenAIInputField(InputField):
    """`input` as text; token arrays are refused clearly (not every provider can take them)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, list) and value and all(isinstance(v, (int, list)) for v in value):
            raise ValidationError("token arrays are not supported by the gateway; send text")
        return super()._deserialize(value, attr, data, **kwargs)


class EmbeddingsRequestSchema(Schema):
    """POST /v1/embeddings; unknown fields are refused, naming the field."""

    error_messages = {"unknown": "is not supported by the gateway's embeddings."}

    model = model_field
    input = OpenAIInputField(required=True)
    encoding_format = fields.String(allow_none=True, validate=validate.OneOf(("float", "base64")))
    dimensions = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=65536))
    user = fields.String(allow_none=True, validate=validate.Length(max=256))
    input_type = fields.String(
        allow_none=True,
        validate=validate.OneOf(INPUT_TYPES),
        metadata={"description": "Gateway extension for providers that need it (Cohere)."},
    )
    metadata = MetadataField(keys=fields.String(), allow_none=True)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> EmbeddingCall:
        return EmbeddingCall(
            request=EmbeddingRequest(
                model=data["model"],
                inputs=data["input"],
                dimensions=data.get("dimensions"),
                input_type=data.get("input_type"),
                user=data.get("user"),
            ),
            options=CallOptions(metadata=data.get("metadata")),
            encoding_format=data.get("encoding_format") or "float",
        )


# -- responses (documentation; the views render with api/rendering) -----------------------------------
class OpenAIChatCompletionSchema(ChatCompletionBaseSchema):
    """OpenAI's chat.completion, exactly (no gateway fields; those are in X-LLMGateway-* headers)."""


class OpenAIChunkSchema(ChunkBaseSchema):
    """One `data:` event: a chat.completion.chunk; the usage chunk only with stream_options.include_usage."""


class OpenAIEmbeddingSchema(Schema):
    object = fields.String(metadata={"example": "embedding"})
    index = fields.Integer()
    embedding = fields.Raw(metadata={"description": "floats, or a base64 string of little-endian float32"})


class OpenAIEmbeddingListSchema(Schema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(OpenAIEmbeddingSchema))
    model = fields.String()
    usage = fields.Nested(EmbeddingUsageSchema)


class OpenAIModelSchema(Schema):
    id = fields.String()
    object = fields.String(metadata={"example": "model"})
    created = fields.Integer()
    owned_by = fields.String(metadata={"description": "The provider that serves the model."})


class OpenAIModelListSchema(Schema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(OpenAIModelSchema))
