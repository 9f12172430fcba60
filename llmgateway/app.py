"""The application factory: the one composition root, a few short register_* steps."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TextIO

import click
from flask import Flask

from llmgateway.api.error_handlers import register_error_handlers
from llmgateway.api.ledger_guard import refuse_when_ledger_full
from llmgateway.api.lifecycle import finish_request, open_request, open_usage_record
from llmgateway.api.overload import IN_FLIGHT_EXTRA, ReleaseInFlight, refuse_when_overloaded
from llmgateway.api.parsing import OrjsonProvider
from llmgateway.api.rate_limits import register_rate_limits
from llmgateway.api.security import authenticate_request, authorize_request
from llmgateway.api.sse_schema import register_data_schemas
from llmgateway.config import Settings, load_settings, with_generated_secrets
from llmgateway.core.authenticator import Authenticator
from llmgateway.core.balancing import Balancer
from llmgateway.core.deployments import DeploymentRouter
from llmgateway.core.executor import Executor
from llmgateway.core.fallbacks import FallbackPolicy
from llmgateway.core.gateway import Gateway
from llmgateway.core.keys import KeyHasher
from llmgateway.core.overload import InFlightLimit
from llmgateway.core.pricing import PriceList
from llmgateway.core.retries import RetryBudget, RetryPolicy
from llmgateway.core.routing import ModelCatalogue
from llmgateway.extensions import api, jwt
from llmgateway.infra.breakers import BreakerBoard
from llmgateway.infra.db import make_engine, make_session_factory
from llmgateway.infra.deployment_board import (
    DeploymentBoard,
    build_balancing_state,
    deployment_breaker_check,
    deployment_pools,
)
from llmgateway.infra.keystore import KeyStore
from llmgateway.infra.ledger import build_ledger
from llmgateway.infra.logging import configure_logging
from llmgateway.infra.metrics import BreakerStateListener, GatewayMetrics
from llmgateway.infra.schema import upgrade_schema
from llmgateway.infra.shared_state import build_shared_state
from llmgateway.infra.stored_responses import ResponseStore
from llmgateway.infra.tracing import attempt_span, build_tracing
from llmgateway.providers.base import Provider, ProviderSettings
from llmgateway.providers.registry import configured_provider_classes
from llmgateway.services import EXTENSION_KEY, Services

log = logging.getLogger("llmgateway")

#: Set by gunicorn's master after it prepared the database, so workers skip the migration step.
SCHEMA_READY_ENV = "LLMGATEWAY_SCHEMA_READY"


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app from explicit settings (tests) or from LLMGATEWAY_CONFIG and the environment."""
    settings = with_generated_secrets(config if isinstance(config, Settings) else load_settings(config))
    command_line = loaded_by_a_command()
    configure_logging(settings.logging.cli_level if command_line else settings.logging.level, settings.logging.format)
    app = Flask("llmgateway", static_folder=None)
    configure_flask(app, settings)
    svc = build_services(settings)
    app.extensions[EXTENSION_KEY] = svc
    if settings.database.auto_upgrade and not os.environ.get(SCHEMA_READY_ENV):
        prepare_database(svc, announce_to=sys.stderr if command_line else sys.stdout)
    register_extensions(app)
    register_hooks(app)
    register_rate_limits(app, svc)  # after the auth hook: limits are keyed by the authenticated key
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def loaded_by_a_command() -> bool:
    """Whether a `flask` command other than the development server is loading the app: then stdout is the
    command's output, so logs stay at `logging.cli_level` and the first admin key goes to stderr."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"


def configure_flask(app: Flask, settings: Settings) -> None:
    app.json = OrjsonProvider(app)
    limits = settings.limits
    app.config.update(
        MAX_CONTENT_LENGTH=limits.max_body_bytes,
        LLMGATEWAY_MAX_JSON_DEPTH=limits.max_json_depth,
        LLMGATEWAY_MAX_MESSAGES=limits.max_messages,
        LLMGATEWAY_MAX_EMBEDDING_INPUTS=limits.max_embedding_inputs,
        LLMGATEWAY_MAX_TOKENS=limits.max_tokens,
        LLMGATEWAY_PUBLIC_PATHS=frozenset(settings.server.public_paths),
        SECRET_KEY=settings.secret_key,
        JWT_SECRET_KEY=settings.jwt.secret,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.jwt.access_token_expires),
        API_TITLE="llmgateway",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                    "BearerAuth": {"type": "http", "scheme": "bearer"},
                }
            },
            "security": [{"ApiKeyAuth": []}, {"BearerAuth": []}],
        },
    )


def build_providers(settings: Settings, classes: Mapping[str, type[Provider]]) -> dict[str, Provider]:
    """One instance (one pooled session) per configured provider; a provider with no API key is disabled."""
    providers: dict[str, Provider] = {}
    for name, cls in classes.items():
        cfg = settings.providers.get(name)
        if cfg is None or (not cfg.api_key and getattr(cls, "requires_api_key", True)):
            continue
        providers[name] = cls(
            ProviderSettings(
                api_key=cfg.api_key,
                base_url=cfg.base_url or cls.default_base_url,
                timeout=cfg.timeout,
                connect_timeout=cfg.connect_timeout,
                stream_idle_timeout=cfg.stream_idle_timeout,
                max_connections=cfg.max_connections,
                options=dict(cfg.options),
            )
        )
    return providers


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings.database)
    sessions = make_session_factory(engine)
    keystore = KeyStore(sessions, KeyHasher(settings.secret_key or ""))
    classes = configured_provider_classes(settings.providers, settings.source)
    providers = build_providers(settings, classes)
    catalogue = ModelCatalogue(settings.model_mappings, classes, list(providers), settings.source)
    ledger = build_ledger(settings, engine)
    prices = PriceList(settings.pricing, {name: cls.cache_price_ratios() for name, cls in classes.items()})
    shared = build_shared_state(settings, sessions, catalogue, prices)
    breakers = BreakerBoard(settings.circuit_breaker, shared.redis) if settings.circuit_breaker.enabled else None
    balancing = build_balancing_state(settings, shared.redis)
    pools = deployment_pools(catalogue.mapped(), providers)
    router = DeploymentRouter(Balancer(balancing, deployment_breaker_check(providers, breakers)), pools)
    executor = build_executor(settings, providers, catalogue, breakers, router)
    gateway = Gateway(
        catalogue, executor, prices, admission=shared.admission, cache=shared.cache, cache_scope=settings.cache.scope
    )
    metrics = GatewayMetrics(
        multiprocess_dir=settings.metrics.multiprocess_dir, max_model_labels=settings.metrics.max_model_labels
    )
    metrics.watch_backlog(ledger)
    ledger.dead_letters.add_listener(metrics.dead_letter_set_aside)
    board = DeploymentBoard(catalogue.mapped(), balancing, providers, breakers)
    metrics.watch_deployments(board)
    if breakers:
        breakers.add_listener(BreakerStateListener(metrics))
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keystore=keystore,
        authenticator=Authenticator(keystore, settings.server.auth_cache_ttl),
        ledger=ledger,
        providers=providers,
        gateway=gateway,
        response_store=ResponseStore(sessions),
        metrics=metrics,
        tracing=build_tracing(settings.otel),
        extras={
            "balancing": balancing,  # before Redis: closing it withdraws this worker's counts through Redis
            **shared.extras(),
            "deployments": board,
            "deployment_pools": pools,
            **({"breakers": breakers} if breakers else {}),
            IN_FLIGHT_EXTRA: InFlightLimit(settings.server.in_flight_limit),
        },
    )


def build_executor(
    settings: Settings,
    providers: dict[str, Provider],
    catalogue: ModelCatalogue,
    breakers: BreakerBoard | None,
    deployments: DeploymentRouter | None = None,
) -> Executor:
    """Fallbacks, per-deployment breakers, deployments and budgeted retries under one request deadline; attempts
    traced."""
    return Executor(
        providers,
        retries=RetryPolicy(settings.retries),
        budget=RetryBudget(settings.retries.budget_ratio, min_per_second=settings.retries.budget_min_per_second),
        request_deadline=settings.retries.request_deadline,
        fallbacks=FallbackPolicy(settings.fallbacks, catalogue, settings.source),
        breakers=breakers,
        deployments=deployments,
        observer=attempt_span,
    )


def prepare_database(svc: Services, announce_to: TextIO | None = None) -> None:
    """Create or upgrade the schema, import configured keys, and create the first admin key if none exists."""
    upgrade_schema(svc.settings.database.url)
    created = svc.keystore.bootstrap(svc.settings.api_keys, svc.settings.bootstrap_api_key)
    if created:
        out = announce_to or sys.stdout
        # Printed once, on purpose: this is the only time the key exists in clear text.
        print(f"llmgateway: created the first admin API key (shown once): {created}", file=out, flush=True)
        log.warning(
            "created the first admin API key; it was printed once to %s", "stderr" if out is sys.stderr else "stdout"
        )


def register_extensions(app: Flask) -> None:
    jwt.init_app(app)
    api.init_app(app)


def register_hooks(app: Flask) -> None:
    """The request lifecycle: open → authenticate → open the usage record → authorize → guard; finish."""
    app.before_request(open_request)
    app.before_request(authenticate_request)
    app.before_request(open_usage_record)
    app.before_request(authorize_request)
    app.before_request(refuse_when_ledger_full)
    app.before_request(refuse_when_overloaded)  # before the rate limits: a refusal spends no quota
    app.wsgi_app = ReleaseInFlight(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(finish_request)


def register_blueprints(app: Flask) -> None:
    from llmgateway.api.admin.views import blp as admin
    from llmgateway.api.anthropic_compat.views import blp as anthropic_compat
    from llmgateway.api.auth.views import blp as auth
    from llmgateway.api.completion.views import blp as completion
    from llmgateway.api.embedding.views import blp as embedding
    from llmgateway.api.health.views import blp as health
    from llmgateway.api.metrics.views import blp as metrics
    from llmgateway.api.models.views import blp as models
    from llmgateway.api.openai_compat.views import blp as openai_compat
    from llmgateway.api.responses.views import blp as responses

    blueprints = (
        completion,
        embedding,
        models,
        admin,
        auth,
        health,
        openai_compat,
        anthropic_compat,
        responses,
        metrics,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    register_data_schemas(api)
    from llmgateway.api.console import register_console

    svc = app.extensions["llmgateway"]
    jwt_settings = svc.settings.jwt
    register_console(
        app,
        jwt_settings.secret or "",
        jwt_settings.access_token_expires,  # HTML, not in OpenAPI
        svc.extras.get("redis"),
    )


def register_cli(app: Flask) -> None:
    from llmgateway.cli import db_cli, keys_cli, usage_cli

    for group in (keys_cli, usage_cli, db_cli):
        app.cli.add_command(group)
