"""Settings: the only module that reads os.environ and the config file; validates everything at start-up."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from llmgateway.errors import ConfigError

PERMISSIONS = ("completion", "embedding", "admin")
FALLBACK_CODES = ("rate_limit_exceeded", "server_error", "timeout", "service_unavailable", "context_length_exceeded")
DEFAULT_FALLBACK_CODES = FALLBACK_CODES[:4]
DEFAULT_DATABASE_URL = "sqlite:///llmgateway.db"
MAX_TPM = 2**31 - 1  # stored in a 32-bit integer column

#: Environment variable -> dotted config path it overrides (the seed's names are kept).
ENV_OVERRIDES: dict[str, str] = {
    "OPENAI_API_KEY": "providers.openai.api_key",
    "ANTHROPIC_API_KEY": "providers.anthropic.api_key",
    "COHERE_API_KEY": "providers.cohere.api_key",
    "HUGGINGFACE_API_KEY": "providers.huggingface.api_key",
    "OPENAI_BASE_URL": "providers.openai.base_url",
    "ANTHROPIC_BASE_URL": "providers.anthropic.base_url",
    "COHERE_BASE_URL": "providers.cohere.base_url",
    "HUGGINGFACE_BASE_URL": "providers.huggingface.base_url",
    "JWT_SECRET": "jwt.secret",
    "API_KEY": "bootstrap_api_key",
    "LLMGATEWAY_SECRET_KEY": "secret_key",
    "DATABASE_URL": "database.url",
    "REDIS_URL": "redis.url",
    "LOG_LEVEL": "logging.level",
    "PROMETHEUS_MULTIPROC_DIR": "metrics.multiprocess_dir",
    "LLMGATEWAY_METRICS_TOKEN": "metrics.token",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "otel.endpoint",
    "OTEL_SERVICE_NAME": "otel.service_name",
}


# -- typed settings -------------------------------------------------------------------------------
PROVIDER_TYPES = ("openai_compatible", "azure_openai", "openai", "anthropic", "cohere", "huggingface")
BALANCING_STRATEGIES = ("weighted", "least_busy", "latency", "ordered")


@dataclass(frozen=True)
class ProviderConfig:
    type: str | None = None  # None: the built-in (or plugin) provider of the same name
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 120.0
    connect_timeout: float = 5.0
    stream_idle_timeout: float = 60.0
    max_connections: int = 1000
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiKeyConfig:
    key: str
    owner: str
    permissions: tuple[str, ...]
    id: str | None = None
    rate_limit: str | None = None
    tpm_limit: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    expires_at: Any = None


@dataclass(frozen=True)
class DeploymentConfig:
    provider: str
    provider_model_id: str
    weight: float = 1.0


@dataclass(frozen=True)
class ModelMapping:
    model_id: str
    provider: str | None = None  # one deployment (the short form), or None when `deployments` are listed
    provider_model_id: str | None = None
    display_name: str | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] | None = None
    pricing: dict[str, float | None] | None = None
    deployments: tuple[DeploymentConfig, ...] = ()
    strategy: str = "weighted"

    def __post_init__(self) -> None:
        if not self.deployments and self.provider and self.provider_model_id:
            object.__setattr__(self, "deployments", (DeploymentConfig(self.provider, self.provider_model_id),))


@dataclass(frozen=True)
class BalancingConfig:
    entry_ttl: float = 5.0  # a dead worker's in-flight counts vanish after this many seconds
    sync_interval: float = 0.25  # how often a worker publishes its counts and reads cooldowns


@dataclass(frozen=True)
class FallbackRule:
    model_id: str
    fallback_models: tuple[str, ...]
    error_codes: tuple[str, ...] = DEFAULT_FALLBACK_CODES


@dataclass(frozen=True)
class FallbackConfig:
    enabled: bool = True
    rules: tuple[FallbackRule, ...] = ()


@dataclass(frozen=True)
class CircuitBreakerConfig:
    enabled: bool = True
    fail_max: int = 5
    reset_timeout: float = 30.0


@dataclass(frozen=True)
class RetryConfig:
    max_attempts: int = 3
    budget_ratio: float = 0.2
    backoff_base: float = 0.2
    backoff_max: float = 5.0
    max_retry_after: float = 10.0
    request_deadline: float = 300.0


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = True
    ttl: int = 3600
    scope: str = "owner"
    max_entry_bytes: int = 1_048_576


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool = True
    default: str = "60/minute"
    strategy: str = "sliding-window-counter"


@dataclass(frozen=True)
class RedisConfig:
    url: str | None = None
    instance_name: str = "LLMGateway:"
    socket_timeout: float = 0.2  # connect and read: how long a silent Redis may stall a request
    max_connections: int = 200  # per pool and worker; opened on demand
    pool_timeout: float = 2.0  # waiting for a free pooled connection: local contention, not a Redis fault


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = DEFAULT_DATABASE_URL
    auto_upgrade: bool = True
    pool_size: int = 5
    max_overflow: int = 10


@dataclass(frozen=True)
class JwtConfig:
    secret: str | None = None
    access_token_expires: int = 900


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    format: str = "json"


@dataclass(frozen=True)
class LimitsConfig:
    max_body_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64
    max_messages: int = 10_000
    max_embedding_inputs: int = 2048
    max_tokens: int = 1_000_000


@dataclass(frozen=True)
class LedgerConfig:
    spool_dir: str | None = None
    spool_max_mb: int = 1024
    batch_size: int = 500
    flush_interval: float = 0.5


@dataclass(frozen=True)
class ServerConfig:
    trusted_proxies: tuple[str, ...] = ()
    public_paths: tuple[str, ...] = ("/health", "/health/ready", "/metrics")
    auth_cache_ttl: float = 3.0


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = True
    token: str | None = None  # when set, GET /metrics needs `Authorization: Bearer <token>`
    multiprocess_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR: aggregate over gunicorn workers
    max_model_labels: int = 200  # distinct model label values per process; more become "other"


@dataclass(frozen=True)
class OtelConfig:
    enabled: bool | None = None  # None: on when an endpoint is configured
    endpoint: str | None = None  # OTLP/HTTP base URL, e.g. http://collector:4318
    service_name: str = "llmgateway"
    sample_ratio: float = 1.0

    @property
    def active(self) -> bool:
        return self.enabled if self.enabled is not None else bool(self.endpoint)


@dataclass(frozen=True)
class Settings:
    """Every setting the gateway reads, validated."""

    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    api_keys: tuple[ApiKeyConfig, ...] = ()
    model_mappings: tuple[ModelMapping, ...] = ()
    fallbacks: FallbackConfig = FallbackConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    retries: RetryConfig = RetryConfig()
    cache: CacheConfig = CacheConfig()
    rate_limits: RateLimitConfig = RateLimitConfig()
    redis: RedisConfig = RedisConfig()
    database: DatabaseConfig = DatabaseConfig()
    jwt: JwtConfig = JwtConfig()
    logging: LoggingConfig = LoggingConfig()
    limits: LimitsConfig = LimitsConfig()
    ledger: LedgerConfig = LedgerConfig()
    server: ServerConfig = ServerConfig()
    metrics: MetricsConfig = MetricsConfig()
    otel: OtelConfig = OtelConfig()
    balancing: BalancingConfig = BalancingConfig()
    pricing: dict[str, dict[str, float | None]] = field(default_factory=dict)
    secret_key: str | None = None
    bootstrap_api_key: str | None = None
    source: str = "defaults"

    @property
    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")


# -- validation schemas ---------------------------------------------------------------------------
def _positive(value: float) -> None:
    if value <= 0:
        raise ValidationError("must be greater than 0")


def validate_rate_limit(value: str) -> None:
    """Raise ValidationError unless `value` is a limit string such as '60/minute'."""
    from limits import parse_many

    try:
        if not parse_many(value):
            raise ValueError
    except ValueError as exc:
        raise ValidationError("not a rate limit such as '60/minute'") from exc


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ProviderSchema(Schema):
    class Meta:
        unknown = INCLUDE  # provider-specific options (version, default_max_tokens, …)

    type = fields.String(allow_none=True, validate=validate.OneOf(PROVIDER_TYPES))
    api_key = fields.String(allow_none=True)
    base_url = fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"})
    timeout = fields.Float(validate=_positive)
    connect_timeout = fields.Float(validate=_positive)
    stream_idle_timeout = fields.Float(validate=_positive)
    max_connections = fields.Integer(validate=validate.Range(min=1))
    headers = fields.Dict(keys=fields.String(), values=fields.String())  # extra headers (configured types)
    api_version = fields.String(validate=validate.Length(min=1, max=64))  # azure_openai

    @validates_schema
    def check_type(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") in ("openai_compatible", "azure_openai") and not data.get("base_url"):
            raise ValidationError({"base_url": f"a provider of type {data['type']} needs a base_url"})
        if data.get("type") == "azure_openai" and not data.get("api_key"):
            raise ValidationError({"api_key": "a provider of type azure_openai needs an api_key"})

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ProviderConfig:
        known = {k: data.pop(k) for k in list(data) if k in ProviderConfig.__dataclass_fields__}
        return ProviderConfig(**known, options=data)


class ApiKeySchema(_Strict):
    id = fields.UUID(allow_none=True)
    key = fields.String(required=True, validate=validate.Length(min=16))
    owner = fields.String(required=True, validate=validate.Length(min=1, max=200))
    permissions = fields.List(fields.String(validate=validate.OneOf(PERMISSIONS)), required=True)
    rate_limit = fields.String(allow_none=True, validate=validate_rate_limit)
    tpm_limit = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_TPM))
    budget_usd = fields.Float(allow_none=True, validate=validate.Range(min=0))
    budget_period = fields.String(allow_none=True, validate=validate.OneOf(("day", "month")))
    expires_at = fields.AwareDateTime(allow_none=True, default_timezone=None)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ApiKeyConfig:
        data["permissions"] = tuple(data["permissions"])
        if data.get("id") is not None:
            data["id"] = str(data["id"])
        return ApiKeyConfig(**data)


class PricingSchema(_Strict):
    input_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))
    output_per_million = fields.Float(allow_none=True, validate=validate.Range(min=0))


class DeploymentSchema(_Strict):
    provider = fields.String(required=True)
    provider_model_id = fields.String(required=True, validate=validate.Length(min=1, max=256))
    weight = fields.Float(validate=_positive)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> DeploymentConfig:
        return DeploymentConfig(data["provider"].lower(), data["provider_model_id"], data.get("weight", 1.0))


class MappingSchema(_Strict):
    model_id = fields.String(required=True, validate=validate.Length(min=1, max=256))
    provider = fields.String()
    provider_model_id = fields.String(validate=validate.Length(min=1, max=256))
    display_name = fields.String(allow_none=True)
    context_window = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    capabilities = fields.List(fields.String(validate=validate.OneOf(("completion", "embedding"))), allow_none=True)
    pricing = fields.Nested(PricingSchema, allow_none=True)
    deployments = fields.List(fields.Nested(DeploymentSchema), validate=validate.Length(min=1))
    strategy = fields.String(validate=validate.OneOf(BALANCING_STRATEGIES))

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

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> ModelMapping:
        if "provider" in data:
            data["provider"] = data["provider"].lower()
        if data.get("capabilities") is not None:
            data["capabilities"] = tuple(data["capabilities"])
        if "deployments" in data:
            data["deployments"] = tuple(data["deployments"])
        return ModelMapping(**data)


class RoutingSchema(_Strict):
    model_mappings = fields.List(fields.Nested(MappingSchema), load_default=list)


class FallbackRuleSchema(_Strict):
    model_id = fields.String(required=True)
    fallback_models = fields.List(fields.String(), required=True)
    error_codes = fields.List(fields.String(validate=validate.OneOf(FALLBACK_CODES)), allow_none=True)

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> FallbackRule:
        codes = tuple(data.get("error_codes") or DEFAULT_FALLBACK_CODES)
        return FallbackRule(data["model_id"], tuple(data["fallback_models"]), codes)


class FallbacksSchema(_Strict):
    enabled = fields.Boolean()
    rules = fields.List(fields.Nested(FallbackRuleSchema))

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> FallbackConfig:
        return FallbackConfig(data.get("enabled", True), tuple(data.get("rules", ())))


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for plain PostgreSQL URLs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def _section(dataclass_type: type, **declared: fields.Field) -> type[Schema]:
    """A strict schema for a flat settings section that builds its dataclass."""

    def build(self: Schema, data: dict[str, Any], **_: Any) -> Any:
        return dataclass_type(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    attrs: dict[str, Any] = dict(declared)
    attrs["build"] = post_load(build)
    return type(f"{dataclass_type.__name__}Schema", (_Strict,), attrs)


CircuitBreakerSchema = _section(
    CircuitBreakerConfig,
    enabled=fields.Boolean(),
    fail_max=fields.Integer(validate=validate.Range(min=1)),
    reset_timeout=fields.Float(validate=_positive),
)
RetrySchema = _section(
    RetryConfig,
    max_attempts=fields.Integer(validate=validate.Range(min=1, max=10)),
    budget_ratio=fields.Float(validate=validate.Range(min=0, max=1)),
    backoff_base=fields.Float(validate=validate.Range(min=0)),
    backoff_max=fields.Float(validate=validate.Range(min=0)),
    max_retry_after=fields.Float(validate=validate.Range(min=0)),
    request_deadline=fields.Float(validate=_positive),
)
CacheSchema = _section(
    CacheConfig,
    enabled=fields.Boolean(),
    ttl=fields.Integer(validate=validate.Range(min=1)),
    scope=fields.String(validate=validate.OneOf(("owner", "global"))),
    max_entry_bytes=fields.Integer(validate=validate.Range(min=1024)),
)
RateLimitSchema = _section(
    RateLimitConfig,
    enabled=fields.Boolean(),
    default=fields.String(validate=validate_rate_limit),
    strategy=fields.String(validate=validate.OneOf(("fixed-window", "moving-window", "sliding-window-counter"))),
)
RedisSchema = _section(
    RedisConfig,
    url=fields.String(
        allow_none=True, validate=validate.Regexp(r"^(redis|rediss|unix)://", error="not a redis:// URL")
    ),
    instance_name=fields.String(),
    socket_timeout=fields.Float(validate=_positive),
    max_connections=fields.Integer(validate=validate.Range(min=1)),
    pool_timeout=fields.Float(validate=_positive),
)
DatabaseSchema = _section(
    DatabaseConfig,
    url=fields.String(
        validate=validate.Regexp(r"^(sqlite|postgresql|postgres)", error="must be a sqlite:// or postgresql URL")
    ),
    auto_upgrade=fields.Boolean(),
    pool_size=fields.Integer(validate=validate.Range(min=1)),
    max_overflow=fields.Integer(validate=validate.Range(min=0)),
)
JwtSchema = _section(
    JwtConfig,
    secret=fields.String(allow_none=True, validate=validate.Length(min=32, error="must be at least 32 characters")),
    access_token_expires=fields.Integer(validate=validate.Range(min=1)),
)
LoggingSchema = _section(
    LoggingConfig,
    level=fields.String(validate=validate.OneOf(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))),
    format=fields.String(validate=validate.OneOf(("json", "console"))),
)
LimitsSchema = _section(
    LimitsConfig,
    max_body_bytes=fields.Integer(validate=validate.Range(min=1024)),
    max_json_depth=fields.Integer(validate=validate.Range(min=2)),
    max_messages=fields.Integer(validate=validate.Range(min=1)),
    max_embedding_inputs=fields.Integer(validate=validate.Range(min=1)),
    max_tokens=fields.Integer(validate=validate.Range(min=1)),
)
LedgerSchema = _section(
    LedgerConfig,
    spool_dir=fields.String(allow_none=True),
    spool_max_mb=fields.Integer(validate=validate.Range(min=1)),
    batch_size=fields.Integer(validate=validate.Range(min=1)),
    flush_interval=fields.Float(validate=_positive),
)
ServerSchema = _section(
    ServerConfig,
    trusted_proxies=fields.List(fields.String()),
    public_paths=fields.List(fields.String()),
    auth_cache_ttl=fields.Float(validate=validate.Range(min=0, max=5)),
)

MetricsSchema = _section(
    MetricsConfig,
    enabled=fields.Boolean(),
    token=fields.String(allow_none=True, validate=validate.Length(min=16, error="must be at least 16 characters")),
    multiprocess_dir=fields.String(allow_none=True),
    max_model_labels=fields.Integer(validate=validate.Range(min=1)),
)
BalancingSchema = _section(
    BalancingConfig,
    entry_ttl=fields.Float(validate=validate.Range(min=0.5)),
    sync_interval=fields.Float(validate=_positive),
)
OtelSchema = _section(
    OtelConfig,
    enabled=fields.Boolean(allow_none=True),
    endpoint=fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"}),
    service_name=fields.String(validate=validate.Length(min=1, max=200)),
    sample_ratio=fields.Float(validate=validate.Range(min=0, max=1)),
)


class SettingsSchema(_Strict):
    providers = fields.Dict(keys=fields.String(), values=fields.Nested(ProviderSchema))
    api_keys = fields.List(fields.Nested(ApiKeySchema))
    routing = fields.Nested(RoutingSchema)
    fallbacks = fields.Nested(FallbacksSchema)
    circuit_breaker = fields.Nested(CircuitBreakerSchema)
    retries = fields.Nested(RetrySchema)
    cache = fields.Nested(CacheSchema)
    rate_limits = fields.Nested(RateLimitSchema)
    redis = fields.Nested(RedisSchema)
    database = fields.Nested(DatabaseSchema)
    jwt = fields.Nested(JwtSchema)
    logging = fields.Nested(LoggingSchema)
    limits = fields.Nested(LimitsSchema)
    ledger = fields.Nested(LedgerSchema)
    server = fields.Nested(ServerSchema)
    metrics = fields.Nested(MetricsSchema)
    otel = fields.Nested(OtelSchema)
    balancing = fields.Nested(BalancingSchema)
    pricing = fields.Dict(keys=fields.String(), values=fields.Nested(PricingSchema))
    secret_key = fields.String(
        allow_none=True, validate=validate.Length(min=32, error="must be at least 32 characters")
    )
    bootstrap_api_key = fields.String(allow_none=True, validate=validate.Length(min=16))

    @validates_schema
    def check_references(self, data: dict[str, Any], **_: Any) -> None:
        seen: dict[str, str] = {}
        for name in data.get("providers", {}):
            if name.lower() in seen:
                raise ValidationError({"providers": {name: f"two providers are named '{name.lower()}'"}})
            seen[name.lower()] = name
        for index, rule in enumerate(getattr(data.get("fallbacks"), "rules", ())):
            if rule.model_id in rule.fallback_models:
                raise ValidationError({"fallbacks": {"rules": {index: "a model cannot fall back to itself"}}})

    @post_load
    def build(self, data: dict[str, Any], **_: Any) -> Settings:
        routing = data.pop("routing", {})
        data["model_mappings"] = tuple(routing.get("model_mappings", ()))
        data["api_keys"] = tuple(data.get("api_keys", ()))
        data["providers"] = {name.lower(): cfg for name, cfg in data.get("providers", {}).items()}
        if "database" in data:
            data["database"] = replace(data["database"], url=normalize_database_url(data["database"].url))
        return Settings(**data)


# -- loading --------------------------------------------------------------------------------------
def _read_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror}") from exc
    try:
        if path.endswith(".json"):
            raw = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.endswith(".json") else "YAML"
        raise ConfigError(path, "(file)", f"is not valid {kind}: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "(file)", "the top level must be a mapping")
    return raw


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (YAML says so; PyYAML keeps
    the last silently, so two providers of one name would quietly become one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"the key '{key}' appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key '{key}' appears twice")
        out[key] = value
    return out


def _set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    node = target
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def first_error(messages: Any, prefix: str = "") -> tuple[str | None, str]:
    """The first (dotted field path, message) pair in marshmallow's nested error dict; no path at the root."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            return first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, (dict, list)):
            return first_error(first, prefix)
        return prefix or None, str(first)
    return prefix or None, str(messages)


def load_settings(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from an explicit mapping (tests), or from LLMGATEWAY_CONFIG plus environment overrides."""
    env_sources: dict[str, str] = {}
    if config is not None:
        raw = json.loads(json.dumps(config, default=str))
        source = "the given configuration"
    else:
        environ = os.environ if environ is None else environ
        path = environ.get("LLMGATEWAY_CONFIG")
        raw = _read_file(path) if path else {}
        source = path or "defaults"
        for name, dotted in ENV_OVERRIDES.items():
            value = environ.get(name)
            if value:
                _set_path(raw, dotted, value)
                env_sources[dotted] = name
    try:
        settings: Settings = SettingsSchema().load(raw)
    except ValidationError as exc:
        path, problem = first_error(exc.messages)
        key = (path or "(root)").replace(".value.", ".")  # marshmallow nests dict-value errors under "value"
        origin = next((f"environment variable {env}" for dotted, env in env_sources.items() if key == dotted), source)
        raise ConfigError(origin, key, problem) from exc
    return _with_secrets(settings, source)


def _secrets_path(settings: Settings) -> Path:
    url = settings.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).expanduser().resolve().with_suffix(".secrets")
    return Path("llmgateway.secrets").resolve()


def _with_secrets(settings: Settings, source: str) -> Settings:
    """Fill a missing pepper or JWT secret from a 0600 file beside the database, creating it once."""
    settings = replace(settings, source=source)
    if settings.secret_key and settings.jwt.secret:
        return settings
    path = _secrets_path(settings)
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(str(path), "(file)", "the generated secrets file is unreadable") from exc
    changed = False
    for name in ("secret_key", "jwt_secret"):
        if not stored.get(name):
            stored[name] = secrets.token_urlsafe(48)
            changed = True
    if changed:
        stored = _write_secrets_once(path, stored)
    return replace(
        settings,
        secret_key=settings.secret_key or stored["secret_key"],
        jwt=replace(settings.jwt, secret=settings.jwt.secret or stored["jwt_secret"]),
    )


def _write_secrets_once(path: Path, wanted: dict[str, str]) -> dict[str, str]:
    """Create the secrets file atomically; if another process won the race, use what it wrote."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(wanted, handle)
    if path.exists():
        os.replace(tmp, path)  # an existing file lacked a field: complete it
        return wanted
    try:
        os.link(tmp, path)  # fails if a concurrent worker created it first
    except FileExistsError:
        return json.loads(path.read_text())
    finally:
        tmp.unlink(missing_ok=True)
    return wanted
