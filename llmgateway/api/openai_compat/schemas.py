"""OpenAI's request and response shapes, mapped onto the neutral ChatRequest and EmbeddingRequest.

Chat fields fall in four groups:
- first-class (every provider): model, messages, temperature, top_p, max_tokens / max_completion_tokens,
  stop, stream, stream_options, user, n (1 only), plus the gateway's own `metadata` and `cache`;
- refused everywhere: fields that would redirect traffic (api_base, base_url, headers, ...), and fields whose
  answer the gateway cannot relay yet (tools, logprobs, audio, ...) unless they carry their neutral value;
- passed through untouched (seed, response_format, presence_penalty, reasoning_effort, any other field):
  the pipeline forwards them to OpenAI-compatible providers and refuses them for the others (400).
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from llmgateway.api.calls import ChatCall, EmbeddingCall
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
    validate_messages_count,
)
from llmgateway.core.options import CallOptions
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, Message

MAX_CONTENT_CHARS = 4_000_000
#: OpenAI's message roles the gateway understands; `developer` is OpenAI's newer name for `system`.
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
TOOL_ROLES = frozenset({"tool", "function"})
#: Message keys other than role/content, accepted only with these neutral values.
NEUTRAL_MESSAGE_KEYS: dict[str, tuple[Any, ...]] = {
    "name": (None,), "tool_calls": (None, []), "function_call": (None,), "refusal": (None,), "audio": (None,),
}
#: Request fields whose answer the gateway cannot relay yet (it returns one choice of text), with their
#: neutral values, which are accepted and not forwarded.
UNRELAYABLE_FIELDS: dict[str, tuple[Any, ...]] = {
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "functions": (None, []),
    "function_call": (None, "none"),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "audio": (None,),
    "modalities": (None, ["text"]),
}


def _is_neutral(value: Any, neutral: tuple[Any, ...]) -> bool:
    return any(value is n or (type(value) is type(n) and value == n) for n in neutral)


def _text_of(content: Any) -> str:
    """A message's text: a string, or an array of text parts joined by newlines."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list) and content:
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("text"), str) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else None
                raise ValidationError(
                    {j: [f"only text content parts are supported by the gateway (got type {kind!r})"]}
                )
            parts.append(part["text"])
        text = "\n".join(parts)
    else:
        raise ValidationError(["must be a string or a non-empty array of text parts"])
    if len(text) > MAX_CONTENT_CHARS:
        raise ValidationError([f"must hold at most {MAX_CONTENT_CHARS} characters"])
    return text


def _message(raw: Any) -> Message:
    if not isinstance(raw, dict):
        raise ValidationError(["must be an object with role and content"])
    role = raw.get("role")
    if role in TOOL_ROLES:
        message = f"'{role}' messages are not supported: the gateway does not relay tool calls yet"
        raise ValidationError({"role": [message]})
    if role not in ROLES:
        raise ValidationError({"role": [f"must be one of {', '.join(ROLES)}"]})
    for key, value in raw.items():
        if key in ("role", "content"):
            continue
        if key not in NEUTRAL_MESSAGE_KEYS:
            raise ValidationError({key: ["is not a message field the gateway supports"]})
        if not _is_neutral(value, NEUTRAL_MESSAGE_KEYS[key]):
            raise ValidationError({key: ["is not supported by the gateway yet"]})
    try:
        return Message(ROLES[role], _text_of(raw.get("content")))
    except ValidationError as exc:
        raise ValidationError({"content": exc.messages}) from exc


class MessagesField(fields.Field):
    """OpenAI `messages`: roles system/developer/user/assistant; content a string or text parts."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[Message, ...]:
        if not isinstance(value, list):
            raise ValidationError("must be an array of messages")
        validate_messages_count(value)
        messages = []
        for i, raw in enumerate(value):
            try:
                messages.append(_message(raw))
            except ValidationError as exc:
                raise ValidationError({i: exc.messages}) from exc
        return tuple(messages)


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
    temperature = fields.Float(allow_none=True, validate=validate.Range(min=0, max=2))
    top_p = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1))
    max_tokens = fields.Integer(allow_none=True, validate=validate_max_tokens)
    max_completion_tokens = fields.Integer(allow_none=True, validate=validate_max_tokens)
    stop = StopField(allow_none=True)
    stream = fields.Boolean(allow_none=True)
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    n = fields.Integer(
        allow_none=True, validate=validate.Equal(1, error="must be 1: the gateway returns one choice")
    )
    user = fields.String(allow_none=True, validate=validate.Length(max=256))
    metadata = MetadataField(
        keys=fields.String(), allow_none=True,
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
            if neutral is not None and not _is_neutral(value, neutral):
                raise ValidationError({name: ["is not supported by the gateway yet (it relays one text choice)"]})
        budget, completion = data.get("max_tokens"), data.get("max_completion_tokens")
        if budget is not None and completion is not None and budget != completion:
            raise ValidationError({"max_completion_tokens": ["differs from max_tokens; send one of them"]})
        if data.get("stream_options") is not None and not data.get("stream"):
            raise ValidationError({"stream_options": ["is only allowed when stream is true"]})

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ChatCall:
        extra = {
            name: value
            for name, value in data.items()
            if name not in self.fields and value is not None and name not in UNRELAYABLE_FIELDS
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
        allow_none=True, validate=validate.OneOf(INPUT_TYPES),
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
