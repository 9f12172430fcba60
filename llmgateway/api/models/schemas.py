"""Catalogue entry schemas."""

from __future__ import annotations

from marshmallow import Schema, fields


class PricingSchema(Schema):
    input_per_million = fields.Float(allow_none=True)
    output_per_million = fields.Float(allow_none=True)
    cached_input_per_million = fields.Float(allow_none=True)
    cache_write_per_million = fields.Float(allow_none=True)
    cache_write_1h_per_million = fields.Float(allow_none=True)


class ModelSchema(Schema):
    id = fields.String()
    object = fields.String(metadata={"example": "model"})
    provider = fields.String()
    provider_model_id = fields.String()
    display_name = fields.String(allow_none=True)
    context_window = fields.Integer(allow_none=True)
    capabilities = fields.List(fields.String(), allow_none=True)
    pricing = fields.Nested(PricingSchema)


class ModelListSchema(Schema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(ModelSchema))
