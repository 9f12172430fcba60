"""Loading settings: the config file, then environment overrides, validated with the file, key and problem named."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from llmgateway.config.derive import first_error, schema_for
from llmgateway.config.types import Settings
from llmgateway.errors import ConfigError

#: Environment variable -> dotted config path it overrides; providers add theirs (Provider.api_key_env, base_url_env).
ENV_OVERRIDES: dict[str, str] = {
    "JWT_SECRET": "jwt.secret",
    "API_KEY": "bootstrap_api_key",
    "LLMGATEWAY_SECRET_KEY": "secret_key",
    "DATABASE_URL": "database.url",
    "REDIS_URL": "redis.url",
    "LOG_LEVEL": "logging.level",
    "LLMGATEWAY_CLI_LOG_LEVEL": "logging.cli_level",
    "PROMETHEUS_MULTIPROC_DIR": "metrics.multiprocess_dir",
    "LLMGATEWAY_METRICS_TOKEN": "metrics.token",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "otel.endpoint",
    "OTEL_SERVICE_NAME": "otel.service_name",
    "WORKER_CONNECTIONS": "server.worker_connections",
    "LLMGATEWAY_MAX_IN_FLIGHT": "server.max_in_flight",
}


def env_overrides() -> dict[str, str]:
    """Every environment variable that overrides a setting: the gateway's own and each provider class's."""
    from llmgateway.providers.registry import available_provider_classes

    overrides: dict[str, str] = {}
    for name, cls in available_provider_classes().items():
        declared = vars(cls)  # only the class's own names: a subclass must not take over its parent's variables
        for attr, setting_name in (("api_key_env", "api_key"), ("base_url_env", "base_url")):
            if declared.get(attr):
                overrides.setdefault(declared[attr], f"providers.{name}.{setting_name}")
    return {**overrides, **ENV_OVERRIDES}


def load_settings(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from an explicit mapping (tests), or from LLMGATEWAY_CONFIG plus environment overrides.

    Missing secrets stay None here: `with_generated_secrets` fills them, called by the app factory.
    """
    env_sources: dict[str, str] = {}
    if config is not None:
        raw = json.loads(json.dumps(config, default=str))
        source = "the given configuration"
    else:
        environ = os.environ if environ is None else environ
        path = environ.get("LLMGATEWAY_CONFIG")
        raw = _read_file(path) if path else {}
        source = path or "defaults"
        for name, dotted in env_overrides().items():
            value = environ.get(name)
            if value:
                _set_path(raw, dotted, value)
                env_sources[dotted] = name
    try:
        settings: Settings = schema_for(Settings)().load(raw)
    except ValidationError as exc:
        path, problem = first_error(exc.messages)
        key = (path or "(root)").replace(".value.", ".")  # marshmallow nests dict-value errors under "value"
        origin = next((f"environment variable {env}" for dotted, env in env_sources.items() if key == dotted), source)
        raise ConfigError(origin, key, problem) from exc
    return settings.with_source(source)


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
