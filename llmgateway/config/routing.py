"""Routing settings: model mappings (one provider model, or several weighted deployments) and balancing."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from llmgateway.config.derive import section, setting, settings_type

BALANCING_STRATEGIES = ("weighted", "least_busy", "latency", "ordered")
#: What a mapped model can do: chat completions, embeddings, and the rich chat features (SPEC §8).
CAPABILITIES = ("completion", "embedding", "tools", "vision", "json_schema")


class _Lowercase(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).lower()


def _positive(value: float) -> None:
    if value <= 0:
        raise ValidationError("must be greater than 0")


class PricingSchema(Schema):
    """Per-million-token prices of one model, in USD; null means unknown."""

    input_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))
    output_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))
    #: Unset: the provider's published ratio to the input price (Anthropic read 0.1x, write 1.25x; OpenAI 0.5x).
    cached_input_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))
    cache_write_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))
    cache_write_1h_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))  # Anthropic: 2x


@settings_type
class DeploymentConfig:
    """One deployment of a mapped model: a named provider, its model (Azure: deployment) id, a weight."""

    provider: str = setting(_Lowercase(required=True))
    provider_model_id: str = setting(fields.String(required=True, validate=validate.Length(min=1, max=256)))
    weight: float = setting(fields.Float(validate=_positive), default=1.0)


class _MappingChecks(Schema):
    @validates_schema
    def one_shape(self, data: dict[str, Any], **_: Any) -> None:
        """Either `provider` + `provider_model_id` (one deployment) or a `deployments` list, never both."""
        if "deployments" in data:
            if "provider" in data or "provider_model_id" in data:
                raise ValidationError({"deployments": "list deployments, or give provider and provider_model_id"})
            seen: set[tuple[str, str]] = set()
            for index, deployment in enumerate(data["deployments"]):
                pair = (deployment.provider, deployment.provider_model_id)
                if pair in seen:
                    raise ValidationError({"deployments": {index: "this deployment is listed twice"}})
                seen.add(pair)
            return
        for name in ("provider", "provider_model_id"):
            if name not in data:
                raise ValidationError({name: "Missing data for required field."})


@settings_type
class ModelMapping:
    """A model id of the gateway mapped to a provider's model, or to several deployments and a strategy."""

    schema_base: ClassVar[type[Schema]] = _MappingChecks

    model_id: str = setting(fields.String(required=True, validate=validate.Length(min=1, max=256)))
    #: the short form: one deployment (None when `deployments` are listed)
    provider: str | None = setting(_Lowercase(), default=None)
    provider_model_id: str | None = setting(fields.String(validate=validate.Length(min=1, max=256)), default=None)
    display_name: str | None = setting(fields.String(allow_none=True), default=None)
    context_window: int | None = setting(fields.Integer(allow_none=True, validate=validate.Range(min=1)), default=None)
    capabilities: tuple[str, ...] | None = setting(
        fields.List(fields.String(validate=validate.OneOf(CAPABILITIES)), allow_none=True), default=None
    )
    pricing: dict[str, float | None] | None = setting(fields.Nested(PricingSchema, allow_none=True), default=None)
    deployments: tuple[DeploymentConfig, ...] = setting(
        fields.List(section(DeploymentConfig), validate=validate.Length(min=1)), default=()
    )
    strategy: str = setting(fields.String(validate=validate.OneOf(BALANCING_STRATEGIES)), default="weighted")

    def __post_init__(self) -> None:
        if not self.deployments and self.provider and self.provider_model_id:
            object.__setattr__(self, "deployments", (DeploymentConfig(self.provider, self.provider_model_id),))


@settings_type
class BalancingConfig:
    """How workers share balancing state through Redis."""

    #: a dead worker's in-flight counts vanish after this many seconds without its heartbeat
    entry_ttl: float = setting(fields.Float(validate=validate.Range(min=0.5)), default=5.0)
    #: how often a worker publishes its counts and reads cooldowns
    sync_interval: float = setting(fields.Float(validate=_positive), default=0.25)
