"""Embedding request and response schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from llmgateway.api.calls import EmbeddingCall
from llmgateway.api.schemas import EmbeddingUsageSchema, MetadataField, model_field, validate_inputs_count
from llmgateway.core.options import CallOptions
from llmgateway.providers.types import EmbeddingRequest

INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")


class InputField(fields.Field):
    """`input`: one string or a non-empty list of strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            values = value
        else:
            raise ValidationError("must be a string or a non-empty list of strings")
        if any(not v for v in values):
            raise ValidationError("must not contain empty strings")
        validate_inputs_count(values)
        return tuple(values)


class EmbeddingRequestSchema(Schema):
    model = model_field
    input = InputField(required=True)
    dimensions = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=65536))
    input_type = fields.String(allow_none=True, validate=validate.OneOf(INPUT_TYPES))
    user = fields.String(allow_none=True, validate=validate.Length(max=256))
    metadata = MetadataField(keys=fields.String(), allow_none=True)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> EmbeddingCall:
        request = EmbeddingRequest(
            model=data["model"],
            inputs=data["input"],
            dimensions=data.get("dimensions"),
            input_type=data.get("input_type"),
            user=data.get("user"),
        )
        return EmbeddingCall(request, CallOptions(metadata=data.get("metadata")))


class EmbeddingItemSchema(Schema):
    object = fields.String(metadata={"example": "embedding"})
    index = fields.Integer()
    embedding = fields.List(fields.Float())


class EmbeddingResponseSchema(Schema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(EmbeddingItemSchema))
    model = fields.String()
    provider = fields.String()
    cached = fields.Boolean()
    usage = fields.Nested(EmbeddingUsageSchema)
