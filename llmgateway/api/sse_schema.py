"""How the OpenAPI document describes a Server-Sent Events response: one schema per event, as the stream is read.

OpenAPI before 3.2 has no `itemSchema`, so a `text/event-stream` response's `schema` describes each event
(`data`, and `event`/`id`/`retry` when sent), which is what SSE clients and schemathesis parse. The JSON inside
`data` is documented by name (`Chunk`, `OpenAIChunk`, registered as components), since an SSE `data` field is text.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from marshmallow import Schema, fields

#: The schemas of the JSON inside events' `data`, by component name: no operation refers to them directly.
DATA_SCHEMAS: dict[str, type[Schema]] = {}


def sse_event_schema(name: str, chunk_schema: str, chunk: type[Schema]) -> type[Schema]:
    """A schema for one SSE event whose `data` is the JSON of a `chunk_schema` component (or [DONE], or an error)."""
    DATA_SCHEMAS[chunk_schema] = chunk
    data = fields.String(
        required=True,
        metadata={
            "description": (
                f"The event's payload: the JSON of a `{chunk_schema}` (#/components/schemas/{chunk_schema}) for "
                "each delta and for the final usage chunk, then the literal `[DONE]`; or, when the stream fails "
                'after it began, one JSON error envelope (`{"error": {...}}`) and no `[DONE]`.'
            ),
            "example": '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[]}',
        },
    )
    declared: dict[str, Any] = {
        "data": data,
        "event": fields.String(metadata={"description": "Not sent by the gateway: every event is a `message`."}),
        "id": fields.String(metadata={"description": "Not sent by the gateway."}),
        "retry": fields.Integer(metadata={"description": "Not sent by the gateway."}),
    }
    return type(name, (Schema,), declared)


def register_data_schemas(api: Api) -> None:
    """Add the event payloads' schemas (Chunk, OpenAIChunk) to the document's components."""
    for name, schema in DATA_SCHEMAS.items():
        if name not in api.spec.components.schemas:
            api.spec.components.schema(name, schema=schema)
