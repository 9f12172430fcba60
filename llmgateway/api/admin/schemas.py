"""Admin request and response schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from llmgateway.config import KeyRulesSchema
from llmgateway.infra.reports import GROUP_BY


class KeyCreateSchema(KeyRulesSchema):
    """A new key's owner, permissions and limits: the rules the config file and the CLI apply too."""


class KeySchema(Schema):
    id = fields.String()
    key = fields.String(metadata={"description": "The key itself: present only in the creation response."})
    key_prefix = fields.String()
    owner = fields.String()
    permissions = fields.List(fields.String())
    rate_limit = fields.String(allow_none=True)
    tpm_limit = fields.Integer(allow_none=True)
    budget_usd = fields.Float(allow_none=True)
    budget_period = fields.String(allow_none=True)
    source = fields.String()
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)


class KeyListSchema(Schema):
    data = fields.List(fields.Nested(KeySchema))


class UsageQuerySchema(Schema):
    startDate = fields.Date(allow_none=True, metadata={"description": "Inclusive, UTC (default: first of the month)"})
    endDate = fields.Date(allow_none=True, metadata={"description": "Inclusive, UTC (default: today)"})
    groupBy = fields.String(allow_none=True, validate=validate.OneOf(GROUP_BY))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class FiguresSchema(Schema):
    requests = fields.Integer()
    errors = fields.Integer()
    cache_hits = fields.Integer()
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()
    total_tokens = fields.Integer()
    cached_tokens = fields.Integer(metadata={"description": "Prompt tokens read from the provider's prompt cache"})
    cache_write_tokens = fields.Integer(metadata={"description": "Prompt tokens written to the provider's cache"})
    reasoning_tokens = fields.Integer(metadata={"description": "Completion tokens spent on reasoning"})
    cost_usd = fields.Float(metadata={"description": "Exact cost: each token type at its own price"})
    saved_cost_usd = fields.Float()


class GroupSchema(FiguresSchema):
    key = fields.String(allow_none=True)


class UsageReportSchema(Schema):
    start_date = fields.String()
    end_date = fields.String()
    group_by = fields.String(allow_none=True)
    totals = fields.Nested(FiguresSchema)
    groups = fields.List(fields.Nested(GroupSchema))


class BreakerSchema(Schema):
    name = fields.String(metadata={"description": "provider/model@base_url"})
    provider = fields.String()
    model = fields.String(metadata={"description": "The provider's model id"})
    state = fields.String(validate=validate.OneOf(("closed", "open", "half_open")))
    failures = fields.Integer(metadata={"description": "Consecutive upstream failures counted"})
    opened_at = fields.String(allow_none=True)
    retry_after = fields.Integer(allow_none=True, metadata={"description": "Seconds until a probe is let through"})


class BreakerListSchema(Schema):
    data = fields.List(fields.Nested(BreakerSchema))


class DeploymentSchema(Schema):
    model = fields.String(metadata={"description": "The gateway model id the deployment serves"})
    name = fields.String(metadata={"description": "provider/provider_model: the X-LLMGateway-Deployment value"})
    provider = fields.String()
    provider_model = fields.String(metadata={"description": "The provider's model (Azure: deployment) id"})
    strategy = fields.String(validate=validate.OneOf(("weighted", "least_busy", "latency", "ordered")))
    weight = fields.Float()
    state = fields.String(validate=validate.OneOf(("healthy", "cooling", "open", "half_open", "disabled")))
    in_flight = fields.Integer(metadata={"description": "Requests in flight (fleet-wide with Redis)"})
    latency_ms = fields.Float(
        allow_none=True, metadata={"description": "Moving average of recent latency (streams: time to first byte)"}
    )
    error_rate = fields.Float(metadata={"description": "Moving average of failed attempts, 0 to 1"})
    requests = fields.Integer()
    errors = fields.Integer()
    cooldown_until = fields.String(
        allow_none=True, metadata={"description": "Until when a 429's Retry-After keeps it out of rotation"}
    )


class DeploymentListSchema(Schema):
    data = fields.List(fields.Nested(DeploymentSchema))
