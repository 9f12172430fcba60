"""Configuration: file plus environment, validated at start with the file, key and problem named."""

from __future__ import annotations

import json

import pytest

from llmgateway import create_app
from llmgateway.config import load_settings, with_generated_secrets
from llmgateway.errors import ConfigError


def write(tmp_path, text: str, name: str = "gateway.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_yaml_file_with_environment_overrides(tmp_path):
    path = write(
        tmp_path,
        f"""
providers:
  openai: {{api_key: from-file, base_url: "http://127.0.0.1:9/v1", timeout: 30}}
  anthropic: {{api_key: a-key, version: "2023-06-01", default_max_tokens: 2048}}
routing:
  model_mappings:
    - {{model_id: gpt-4, provider: openai, provider_model_id: gpt-4-0125-preview,
       pricing: {{input_per_million: 10.0, output_per_million: 30.0}}}}
fallbacks:
  rules:
    - {{model_id: openai.gpt-4-turbo, fallback_models: [openai.gpt-3.5-turbo]}}
cache: {{enabled: true, ttl: 60}}
database: {{url: "sqlite:///{tmp_path}/x.db"}}
""",
    )
    settings = load_settings(
        environ={"LLMGATEWAY_CONFIG": path, "OPENAI_API_KEY": "from-env", "REDIS_URL": "redis://127.0.0.1:6379/3"}
    )
    assert settings.providers["openai"].api_key == "from-env"
    assert settings.providers["openai"].timeout == 30
    assert settings.providers["anthropic"].options == {"version": "2023-06-01", "default_max_tokens": 2048}
    assert settings.model_mappings[0].provider_model_id == "gpt-4-0125-preview"
    assert settings.fallbacks.rules[0].error_codes == (
        "rate_limit_exceeded",
        "server_error",
        "timeout",
        "service_unavailable",
    )
    assert settings.redis.url == "redis://127.0.0.1:6379/3"
    assert settings.cache.ttl == 60


def test_json_file_is_accepted(tmp_path):
    path = write(
        tmp_path, json.dumps({"cache": {"ttl": 5}, "database": {"url": f"sqlite:///{tmp_path}/x.db"}}), "gateway.json"
    )
    assert load_settings(environ={"LLMGATEWAY_CONFIG": path}).cache.ttl == 5


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("cache: {ttl: -3}", "cache.ttl", "greater than or equal to 1"),
        ("providers: {openai: {timeout: soon}}", "providers.openai.timeout", "Not a valid number"),
        ("rate_limits: {default: lots}", "rate_limits.default", "not a rate limit"),
        ("surprise: 1", "surprise", "Unknown field"),
        ("api_keys: [{key: short, owner: x, permissions: [completion]}]", "api_keys.0.key", "Shorter than"),
        (
            "api_keys: [{key: long-enough-key-123, owner: x, permissions: [root]}]",
            "api_keys.0.permissions.0",
            "Must be one of",
        ),
        ("database: {url: 'mysql://x'}", "database.url", "sqlite:// or postgresql"),
        (
            "fallbacks: {rules: [{model_id: a, fallback_models: [b], error_codes: [teapot]}]}",
            "fallbacks.rules.0.error_codes.0",
            "Must be one of",
        ),
    ],
)
def test_bad_file_names_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"LLMGATEWAY_CONFIG": path})
    message = str(caught.value)
    assert path in message and key in message and problem in message


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(environ={"LLMGATEWAY_CONFIG": str(tmp_path / "missing.yaml")})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(environ={"LLMGATEWAY_CONFIG": write(tmp_path, "a: [unclosed")})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(environ={"LLMGATEWAY_CONFIG": write(tmp_path, "- a\n- b")})


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DATABASE_URL": "oracle://x", "JWT_SECRET": "j" * 40, "LLMGATEWAY_SECRET_KEY": "p" * 40})
    assert "environment variable DATABASE_URL" in str(caught.value)


def test_generated_secrets_are_kept_beside_the_database_and_reused(tmp_path):
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path}/gw.db"}
    loaded = load_settings(environ=environ)
    secrets_file = tmp_path / "gw.secrets"
    assert loaded.secret_key is None and not secrets_file.exists()  # loading settings writes nothing
    first = with_generated_secrets(loaded)
    second = with_generated_secrets(load_settings(environ=environ))
    assert first.secret_key and first.jwt.secret
    assert first.secret_key == second.secret_key and first.jwt.secret == second.jwt.secret
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    explicit = with_generated_secrets(load_settings(environ={**environ, "JWT_SECRET": "s" * 40}))
    assert explicit.jwt.secret == "s" * 40 and explicit.secret_key == first.secret_key


def test_app_factory_generates_the_secrets_file(tmp_path):
    app = create_app({"database": {"url": f"sqlite:///{tmp_path}/gw.db"}, "logging": {"level": "WARNING"}})
    try:
        stored = json.loads((tmp_path / "gw.secrets").read_text())
        assert app.config["SECRET_KEY"] == stored["secret_key"]
        assert app.config["JWT_SECRET_KEY"] == stored["jwt_secret"]
    finally:
        app.extensions["llmgateway"].close()


def test_provider_without_key_is_disabled_not_an_error(tmp_path):
    app = create_app(
        {
            "database": {"url": f"sqlite:///{tmp_path}/x.db"},
            "logging": {"level": "WARNING"},
            "providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}},
        }
    )
    try:
        assert app.extensions["llmgateway"].providers == {}
    finally:
        app.extensions["llmgateway"].close()


def test_app_factory_honours_explicit_config(make_app):
    app = make_app(limits={"max_tokens": 10})
    assert app.config["LLMGATEWAY_MAX_TOKENS"] == 10
    assert app.config["TESTING"] is True


def test_a_configured_key_follows_the_admin_api_rules(tmp_path):
    """One validator for the config file, the admin API and the CLI: a budget names its period."""
    path = write(tmp_path, "api_keys: [{key: long-enough-key-123, owner: x, permissions: [completion], budget_usd: 5}]")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"LLMGATEWAY_CONFIG": path})
    assert "api_keys.0.budget_period: is required with budget_usd" in str(caught.value)
    path = write(tmp_path, "api_keys: [{key: long-enough-key-123, owner: x, permissions: []}]")
    with pytest.raises(ConfigError, match=r"api_keys\.0\.permissions: "):
        load_settings(environ={"LLMGATEWAY_CONFIG": path})


def test_provider_classes_name_their_environment_variables(monkeypatch):
    from llmgateway.config.loading import env_overrides
    from llmgateway.providers import registry
    from llmgateway.providers.openai import OpenAIProvider

    class AcmeProvider(OpenAIProvider):  # inherits OpenAI's variables, which must stay OpenAI's
        name = "acme"

    class OwnEnvProvider(OpenAIProvider):
        name = "ownenv"
        api_key_env = "OWNENV_API_KEY"

    builtins = registry.available_provider_classes()
    monkeypatch.setattr(
        registry, "available_provider_classes", lambda: {**builtins, "acme": AcmeProvider, "ownenv": OwnEnvProvider}
    )
    overrides = env_overrides()
    assert overrides["OPENAI_API_KEY"] == "providers.openai.api_key"
    assert overrides["HUGGINGFACE_BASE_URL"] == "providers.huggingface.base_url"
    assert overrides["OWNENV_API_KEY"] == "providers.ownenv.api_key"
    assert not any(path.startswith("providers.acme.") for path in overrides.values())
    settings = load_settings(environ={"OWNENV_API_KEY": "k-1", "COHERE_BASE_URL": "http://127.0.0.1:9"})
    assert settings.providers["ownenv"].api_key == "k-1"
    assert settings.providers["cohere"].base_url == "http://127.0.0.1:9"


def test_every_setting_declares_its_rule_once():
    """Each loadable field of a settings type is loaded by the schema derived from it, with its default."""
    import dataclasses

    from llmgateway.config.derive import RULE, schema_for
    from llmgateway.config.types import RetryConfig, Settings

    schema = schema_for(Settings)()
    loadable = {f.name for f in dataclasses.fields(Settings) if RULE in f.metadata}
    assert loadable <= set(schema.fields) and "routing" in schema.fields
    assert schema.load({}) == Settings()
    assert schema_for(RetryConfig)().load({"max_attempts": 4}) == RetryConfig(max_attempts=4)
