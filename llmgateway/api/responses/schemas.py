"""OpenAI Responses request and response shapes for the OpenAPI document; validation is in translate.py."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields


class ResponsesRequestSchema(Schema):
    """POST /v1/responses; fields the gateway does not read are echoed where the API defines them, else ignored."""

    class Meta:
        unknown = INCLUDE

    model = fields.Raw(required=True, metadata={"type": "string", "example": "openai.gpt-4o-mini"})
    input = fields.Raw(
        required=True,
        metadata={
            "description": "A string, or items: messages (input_text / input_image parts), function_call, "
            "function_call_output, reasoning."
        },
    )
    instructions = fields.Raw(metadata={"type": "string"})
    previous_response_id = fields.Raw(
        metadata={"type": "string", "description": "A stored response of the same key owner to continue from."}
    )
    store = fields.Raw(metadata={"type": "boolean", "description": "Keep the response (default true)."})
    stream = fields.Raw(metadata={"type": "boolean"})
    max_output_tokens = fields.Raw(metadata={"type": "integer", "minimum": 1})
    temperature = fields.Raw(metadata={"type": "number"})
    top_p = fields.Raw(metadata={"type": "number"})
    tools = fields.Raw(
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "Function tools in the flat shape {type: function, name, ...}.",
        }
    )
    tool_choice = fields.Raw()
    text = fields.Raw(metadata={"type": "object", "description": "`format`: text, json_object or json_schema."})
    metadata = fields.Raw(metadata={"type": "object"})
    user = fields.Raw(metadata={"type": "string"})


class ResponseUsageSchema(Schema):
    input_tokens = fields.Integer()
    input_tokens_details = fields.Dict()
    output_tokens = fields.Integer()
    output_tokens_details = fields.Dict()
    total_tokens = fields.Integer()


class ResponseObjectSchema(Schema):
    """OpenAI's `Response` object."""

    id = fields.String(metadata={"example": "resp_0f1e2d3c"})
    object = fields.String(metadata={"example": "response"})
    created_at = fields.Integer()
    status = fields.String(metadata={"enum": ["completed", "incomplete", "failed", "in_progress"]})
    error = fields.Dict(allow_none=True)
    incomplete_details = fields.Dict(allow_none=True)
    instructions = fields.String(allow_none=True)
    model = fields.String()
    output = fields.List(fields.Dict())
    previous_response_id = fields.String(allow_none=True)
    store = fields.Boolean()
    usage = fields.Nested(ResponseUsageSchema, allow_none=True)
    metadata = fields.Dict()


class ResponseEventSchema(Schema):
    """One SSE event (`event:` + `data:`), each with a `sequence_number`: response.created, response.in_progress,
    response.output_item.added, response.content_part.added, response.output_text.delta, ... response.completed."""

    type = fields.String()
    sequence_number = fields.Integer()


class DeletedResponseSchema(Schema):
    id = fields.String()
    object = fields.String(metadata={"example": "response"})
    deleted = fields.Boolean()
