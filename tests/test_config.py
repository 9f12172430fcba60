"""Configuration: file plus environment, validated at start with the file, key and problem named."""

from __future__ import annotations

import json

import pytest

from llmgateway import create_app
from llmgateway.config import load_settings
from llmgateway.errors import ConfigError


def write(tmp_path, text: str, name: str = "gateway.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_yaml_file_with_environment_overrides(tmp_path):
    path = write(tmp_path, """
providers:
  openai: {api_key: from-file, base_url: "http://127.0.0.1:9/v1", timeout: 30}
  anthropic: {api_key: a-key, version: "2023-06-01", default_max_tokens: 2048}
routing:
  model_mappings:
    - {model_id: gpt-4, provider: openai, provider_model_id: gpt-4-0125-preview,
       pricing: {input_per_million: 10.0, output_per_million: 30.0}}
fallbacks:
  rules:
    - {model_id: openai.gpt-4-turbo, fallback_models: [openai.gpt-3.5-turbo]}
cache: {enabled: true, ttl: 60}
database: {url: "sqlite:///%s/x.db"}
""" % tmp_path)
    settings = load_settings(environ={"LLMGATEWAY_CONFIG": path, "OPENAI_API_KEY": "from-env",
                                      "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert settings.providers["openai"].api_key == "from-env"
    assert settings.providers["openai"].timeout == 30
    assert settings.providers["anthropic"].options == {"version": "2023-06-01", "default_max_tokens": 2048}
    assert settings.model_mappings[0].provider_model_id == "gpt-4-0125-preview"
    assert settings.fallbacks.rules[0].error_codes == (
        "rate_limit_exceeded", "server_error", "timeout", "service_unavailable")
    assert settings.redis.url == "redis://127.0.0.1:6379/3"
    assert settings.cache.ttl == 60


def test_json_file_is_accepted(tmp_path):
    path = write(tmp_path, json.dumps({"cache": {"ttl": 5}, "database": {"url": f"sqlite:///{tmp_path}/x.db"}}),
                 "gateway.json")
    assert load_settings(environ={"LLMGATEWAY_CONFIG": path}).cache.ttl == 5


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("cache: {ttl: -3}", "cache.ttl", "greater than or equal to 1"),
        ("providers: {openai: {timeout: soon}}", "providers.openai.timeout", "Not a valid number"),
        ("rate_limits: {default: lots}", "rate_limits.default", "not a rate limit"),
        ("surprise: 1", "surprise", "Unknown field"),
        ("api_keys: [{key: short, owner: x, permissions: [completion]}]", "api_keys.0.key", "Shorter than"),
        ("api_keys: [{key: long-enough-key-123, owner: x, permissions: [root]}]", "api_keys.0.permissions.0",
         "Must be one of"),
        ("database: {url: 'mysql://x'}", "database.url", "sqlite:// or postgresql"),
        ("fallbacks: {rules: [{model_id: a, fallback_models: [b], error_codes: [teapot]}]}",
         "fallbacks.rules.0.error_codes.0", "Must be one of"),
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
        load_settings(environ={"DATABASE_URL": "oracle://x", "JWT_SECRET": "j" * 40,
                               "LLMGATEWAY_SECRET_KEY": "p" * 40})
    assert "environment variable DATABASE_URL" in str(caught.value)


def test_generated_secrets_are_kept_beside_the_database_and_reused(tmp_path):
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path}/gw.db"}
    first = load_settings(environ=environ)
    second = load_settings(environ=environ)
    assert first.secret_key == second.secret_key and first.jwt.secret == second.jwt.secret
    secrets_file = tmp_path / "gw.secrets"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    assert load_settings(environ={**environ, "JWT_SECRET": "s" * 40}).jwt.secret == "s" * 40


def test_provider_without_key_is_disabled_not_an_error(tmp_path):
    app = create_app({"database": {"url": f"sqlite:///{tmp_path}/x.db"}, "logging": {"level": "WARNING"},
                      "providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}})
    try:
        assert app.extensions["llmgateway"].providers == {}
    finally:
        app.extensions["llmgateway"].close()


def test_app_factory_honours_explicit_config(make_app):
    app = make_app(limits={"max_tokens": 10})
    assert app.config["LLMGATEWAY_MAX_TOKENS"] == 10
    assert app.config["TESTING"] is True
