"""Every setting the gateway reads: frozen dataclasses, each field declared once with its default and its rule."""

from __future__ import annotations

from dataclasses import field, replace
from typing import Any, ClassVar

from marshmallow import INCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from llmgateway.config.derive import section, setting, settings_type
from llmgateway.config.keys import KeyRulesSchema, validate_rate_limit
from llmgateway.config.routing import BalancingConfig, ModelMapping, PricingSchema, _Lowercase

FALLBACK_CODES = ("rate_limit_exceeded", "server_error", "timeout", "service_unavailable", "context_length_exceeded")
DEFAULT_FALLBACK_CODES = FALLBACK_CODES[:4]
DEFAULT_DATABASE_URL = "sqlite:///llmgateway.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

PROVIDER_TYPES = ("openai_compatible", "azure_openai", "openai", "anthropic", "cohere", "huggingface")


def _positive(value: float) -> None:
    if value <= 0:
        raise ValidationError("must be greater than 0")


def _at_least(n: int | float, *, upto: int | float | None = None) -> validate.Range:
    return validate.Range(min=n, max=upto)


def _one_of(*choices: str) -> validate.OneOf:
    return validate.OneOf(choices)


def _matches(pattern: str, error: str) -> validate.Regexp:
    return validate.Regexp(pattern, error=error)


def _http_url() -> fields.Url:
    return fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"})


def _min_chars(n: int) -> validate.Length:
    return validate.Length(min=n, error=f"must be at least {n} characters")


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for plain PostgreSQL URLs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


class _UuidText(fields.UUID):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return str(super()._deserialize(value, attr, data, **kwargs))


class _DatabaseUrl(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return normalize_database_url(super()._deserialize(value, attr, data, **kwargs))


class _ProviderChecks(Schema):
    """Settings of configured provider types that land in `options`, and what each type needs."""

    headers = fields.Dict(keys=fields.String(), values=fields.String())  # extra headers (configured types)
    api_version = fields.String(validate=validate.Length(min=1, max=64))  # azure_openai

    @validates_schema
    def needs_of_type(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") in ("openai_compatible", "azure_openai") and not data.get("base_url"):
            raise ValidationError({"base_url": f"a provider of type {data['type']} needs a base_url"})
        if data.get("type") == "azure_openai" and not data.get("api_key"):
            raise ValidationError({"api_key": "a provider of type azure_openai needs an api_key"})


@settings_type
class ProviderConfig:
    """One provider's connection; unknown keys (version, default_max_tokens, …) become its `options`."""

    unknown_fields: ClassVar[str] = INCLUDE
    schema_base: ClassVar[type[Schema]] = _ProviderChecks

    #: None: the built-in (or plugin) provider of this name; else a configured provider type (SPEC §10)
    type: str | None = setting(fields.String(allow_none=True, validate=validate.OneOf(PROVIDER_TYPES)), default=None)
    api_key: str | None = setting(fields.String(allow_none=True), default=None)
    base_url: str | None = setting(_http_url(), default=None)
    timeout: float = setting(fields.Float(validate=_positive), default=120.0)
    connect_timeout: float = setting(fields.Float(validate=_positive), default=5.0)
    stream_idle_timeout: float = setting(fields.Float(validate=_positive), default=60.0)
    max_connections: int = setting(fields.Integer(validate=_at_least(1)), default=1000)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> ProviderConfig:
        known = {name: data.pop(name) for name in list(data) if name in cls.__dataclass_fields__}
        return cls(**known, options=data)


@settings_type
class ApiKeyConfig:
    """A key declared in the configuration; owner, permissions and limits follow KeyRulesSchema."""

    schema_base: ClassVar[type[Schema]] = KeyRulesSchema

    key: str = setting(fields.String(required=True, validate=validate.Length(min=16)))
    owner: str = field()
    permissions: tuple[str, ...] = field()
    id: str | None = setting(_UuidText(allow_none=True), default=None)
    rate_limit: str | None = None
    tpm_limit: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    expires_at: Any = None


@settings_type
class FallbackRule:
    """Which models answer, in order, when `model_id` fails with one of `error_codes`."""

    model_id: str = setting(fields.String(required=True))
    fallback_models: tuple[str, ...] = setting(fields.List(fields.String(), required=True))
    error_codes: tuple[str, ...] = setting(
        fields.List(fields.String(validate=validate.OneOf(FALLBACK_CODES)), allow_none=True),
        default=DEFAULT_FALLBACK_CODES,
    )

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> FallbackRule:
        return cls(data["model_id"], data["fallback_models"], data.get("error_codes") or DEFAULT_FALLBACK_CODES)


@settings_type
class FallbackConfig:
    enabled: bool = setting(fields.Boolean(), default=True)
    rules: tuple[FallbackRule, ...] = setting(fields.List(section(FallbackRule)), default=())


@settings_type
class CircuitBreakerConfig:
    enabled: bool = setting(fields.Boolean(), default=True)
    fail_max: int = setting(fields.Integer(validate=_at_least(1)), default=5)
    reset_timeout: float = setting(fields.Float(validate=_positive), default=30.0)


@settings_type
class RetryConfig:
    max_attempts: int = setting(fields.Integer(validate=_at_least(1, upto=10)), default=3)
    #: retries allowed per request on top of the floor (Finagle's percentCanRetry)
    budget_ratio: float = setting(fields.Float(validate=_at_least(0, upto=1)), default=0.2)
    #: retries per second and worker always allowed, however few requests came (Finagle's minRetriesPerSec)
    budget_min_per_second: float = setting(fields.Float(validate=_at_least(0)), default=10.0)
    backoff_base: float = setting(fields.Float(validate=_at_least(0)), default=0.2)
    backoff_max: float = setting(fields.Float(validate=_at_least(0)), default=5.0)
    max_retry_after: float = setting(fields.Float(validate=_at_least(0)), default=10.0)
    request_deadline: float = setting(fields.Float(validate=_positive), default=300.0)


@settings_type
class CacheConfig:
    enabled: bool = setting(fields.Boolean(), default=True)
    ttl: int = setting(fields.Integer(validate=_at_least(1)), default=3600)
    scope: str = setting(fields.String(validate=_one_of("owner", "global")), default="owner")
    max_entry_bytes: int = setting(fields.Integer(validate=_at_least(1024)), default=1_048_576)


@settings_type
class RateLimitConfig:
    enabled: bool = setting(fields.Boolean(), default=True)
    default: str = setting(fields.String(validate=validate_rate_limit), default="60/minute")
    strategy: str = setting(
        fields.String(validate=_one_of("fixed-window", "moving-window", "sliding-window-counter")),
        default="sliding-window-counter",
    )


@settings_type
class RedisConfig:
    url: str | None = setting(
        fields.String(allow_none=True, validate=_matches(r"^(redis|rediss|unix)://", "not a redis:// URL")),
        default=None,
    )
    instance_name: str = setting(fields.String(), default="LLMGateway:")
    #: connect and read: how long a silent Redis may stall a request
    socket_timeout: float = setting(fields.Float(validate=_positive), default=0.2)
    #: per pool and worker; opened on demand
    max_connections: int = setting(fields.Integer(validate=_at_least(1)), default=200)
    #: waiting for a free pooled connection: local contention, not a Redis fault
    pool_timeout: float = setting(fields.Float(validate=_positive), default=2.0)


@settings_type
class DatabaseConfig:
    url: str = setting(
        _DatabaseUrl(validate=_matches(r"^(sqlite|postgresql|postgres)", "must be a sqlite:// or postgresql URL")),
        default=DEFAULT_DATABASE_URL,
    )
    auto_upgrade: bool = setting(fields.Boolean(), default=True)
    pool_size: int = setting(fields.Integer(validate=_at_least(1)), default=5)
    max_overflow: int = setting(fields.Integer(validate=_at_least(0)), default=10)


@settings_type
class JwtConfig:
    secret: str | None = setting(fields.String(allow_none=True, validate=_min_chars(32)), default=None)
    access_token_expires: int = setting(fields.Integer(validate=_at_least(1)), default=900)


@settings_type
class LoggingConfig:
    level: str = setting(fields.String(validate=_one_of(*LOG_LEVELS)), default="INFO")
    format: str = setting(fields.String(validate=_one_of("json", "console")), default="json")
    #: the `flask` commands' level (their stdout is the command's output; logs go to stderr); --verbose: `level`
    cli_level: str = setting(fields.String(validate=_one_of(*LOG_LEVELS)), default="WARNING")


@settings_type
class LimitsConfig:
    max_body_bytes: int = setting(fields.Integer(validate=_at_least(1024)), default=16 * 1024 * 1024)
    max_json_depth: int = setting(fields.Integer(validate=_at_least(2)), default=64)
    max_messages: int = setting(fields.Integer(validate=_at_least(1)), default=10_000)
    max_embedding_inputs: int = setting(fields.Integer(validate=_at_least(1)), default=2048)
    max_tokens: int = setting(fields.Integer(validate=_at_least(1)), default=1_000_000)


@settings_type
class LedgerConfig:
    spool_dir: str | None = setting(fields.String(allow_none=True), default=None)
    spool_max_mb: int = setting(fields.Integer(validate=_at_least(1)), default=1024)
    batch_size: int = setting(fields.Integer(validate=_at_least(1)), default=500)
    flush_interval: float = setting(fields.Float(validate=_positive), default=0.5)


@settings_type
class ServerConfig:
    trusted_proxies: tuple[str, ...] = setting(fields.List(fields.String()), default=())
    public_paths: tuple[str, ...] = setting(
        fields.List(fields.String()), default=("/health", "/health/ready", "/metrics")
    )
    auth_cache_ttl: float = setting(fields.Float(validate=_at_least(0, upto=5)), default=3.0)
    #: authenticated requests one worker serves at once; beyond it 503 + Retry-After at once (None: derived)
    max_in_flight: int | None = setting(fields.Integer(allow_none=True, validate=_at_least(1)), default=None)
    #: gunicorn's worker_connections (WORKER_CONNECTIONS, as gunicorn.conf.py reads it): max_in_flight's default
    worker_connections: int = setting(fields.Integer(validate=_at_least(1)), default=2000)

    @property
    def in_flight_limit(self) -> int:
        """max_in_flight, else 90 % of worker_connections: a worker must keep connections free to refuse on
        (and to answer health checks), since past worker_connections gunicorn stops accepting and work queues."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return max(1, self.worker_connections * 9 // 10)


@settings_type
class MetricsConfig:
    enabled: bool = setting(fields.Boolean(), default=True)
    #: when set, GET /metrics needs `Authorization: Bearer <token>`
    token: str | None = setting(fields.String(allow_none=True, validate=_min_chars(16)), default=None)
    #: PROMETHEUS_MULTIPROC_DIR: aggregate over gunicorn workers
    multiprocess_dir: str | None = setting(fields.String(allow_none=True), default=None)
    #: distinct model label values per process; more become "other"
    max_model_labels: int = setting(fields.Integer(validate=_at_least(1)), default=200)


@settings_type
class OtelConfig:
    #: None: on when an endpoint is configured
    enabled: bool | None = setting(fields.Boolean(allow_none=True), default=None)
    #: OTLP/HTTP base URL, e.g. http://collector:4318
    endpoint: str | None = setting(_http_url(), default=None)
    service_name: str = setting(fields.String(validate=validate.Length(min=1, max=200)), default="llmgateway")
    sample_ratio: float = setting(fields.Float(validate=_at_least(0, upto=1)), default=1.0)

    @property
    def active(self) -> bool:
        return self.enabled if self.enabled is not None else bool(self.endpoint)


class _RoutingSchema(Schema):
    model_mappings = fields.List(section(ModelMapping), load_default=list)


class _SettingsChecks(Schema):
    """What the file has beyond Settings' own fields (`routing`), and checks across sections."""

    routing = fields.Nested(_RoutingSchema)

    @pre_load
    def one_provider_per_name(self, data: Any, **_: Any) -> Any:
        """Provider names are case-insensitive: `Groq` and `groq` would silently become one provider."""
        providers = data.get("providers") if isinstance(data, dict) else None
        seen: set[str] = set()
        for name in providers if isinstance(providers, dict) else ():
            if str(name).lower() in seen:
                raise ValidationError({"providers": {name: f"two providers are named '{str(name).lower()}'"}})
            seen.add(str(name).lower())
        return data

    @validates_schema
    def no_fallback_to_itself(self, data: dict[str, Any], **_: Any) -> None:
        for index, rule in enumerate(getattr(data.get("fallbacks"), "rules", ())):
            if rule.model_id in rule.fallback_models:
                raise ValidationError({"fallbacks": {"rules": {index: "a model cannot fall back to itself"}}})


@settings_type
class Settings:
    """Every setting the gateway reads, validated."""

    schema_base: ClassVar[type[Schema]] = _SettingsChecks

    providers: dict[str, ProviderConfig] = setting(
        fields.Dict(keys=_Lowercase(), values=section(ProviderConfig)), factory=dict
    )
    api_keys: tuple[ApiKeyConfig, ...] = setting(fields.List(section(ApiKeyConfig)), default=())
    model_mappings: tuple[ModelMapping, ...] = ()  # the file's routing.model_mappings
    fallbacks: FallbackConfig = setting(section(FallbackConfig), default=FallbackConfig())
    circuit_breaker: CircuitBreakerConfig = setting(section(CircuitBreakerConfig), default=CircuitBreakerConfig())
    retries: RetryConfig = setting(section(RetryConfig), default=RetryConfig())
    cache: CacheConfig = setting(section(CacheConfig), default=CacheConfig())
    rate_limits: RateLimitConfig = setting(section(RateLimitConfig), default=RateLimitConfig())
    redis: RedisConfig = setting(section(RedisConfig), default=RedisConfig())
    database: DatabaseConfig = setting(section(DatabaseConfig), default=DatabaseConfig())
    jwt: JwtConfig = setting(section(JwtConfig), default=JwtConfig())
    logging: LoggingConfig = setting(section(LoggingConfig), default=LoggingConfig())
    limits: LimitsConfig = setting(section(LimitsConfig), default=LimitsConfig())
    ledger: LedgerConfig = setting(section(LedgerConfig), default=LedgerConfig())
    server: ServerConfig = setting(section(ServerConfig), default=ServerConfig())
    metrics: MetricsConfig = setting(section(MetricsConfig), default=MetricsConfig())
    otel: OtelConfig = setting(section(OtelConfig), default=OtelConfig())
    balancing: BalancingConfig = setting(section(BalancingConfig), default=BalancingConfig())
    pricing: dict[str, dict[str, float | None]] = setting(
        fields.Dict(keys=fields.String(), values=fields.Nested(PricingSchema)), factory=dict
    )
    #: the pepper of key hashes
    secret_key: str | None = setting(fields.String(allow_none=True, validate=_min_chars(32)), default=None)
    bootstrap_api_key: str | None = setting(
        fields.String(allow_none=True, validate=validate.Length(min=16)), default=None
    )
    #: where the settings came from, for messages
    source: str = "defaults"

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Settings:
        routing = data.pop("routing", {})
        return cls(**data, model_mappings=tuple(routing.get("model_mappings", ())))

    def with_source(self, source: str) -> Settings:
        return replace(self, source=source)

    @property
    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")
