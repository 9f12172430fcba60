"""A deployment first seen while Redis failed still joins the fleet-wide breaker index once Redis is back (every
worker's and instance's snapshot lists it), instead of staying out of it forever."""

from __future__ import annotations

import time

from llmgateway.config import CircuitBreakerConfig, RedisConfig
from llmgateway.infra.breakers import BreakerBoard
from llmgateway.infra.redis_client import RedisConnector
from tests.limits.servers import redis_process

CONFIG = CircuitBreakerConfig(fail_max=3, reset_timeout=30)
DEPLOYMENT = ("openai", "http://upstream.invalid/v1", "gpt-4o-mini")
NAME = "openai/gpt-4o-mini@http://upstream.invalid/v1"


def test_a_deployment_seen_during_a_redis_outage_is_registered_later(tmp_path):
    with redis_process(tmp_path) as server:
        worker_redis = RedisConnector(RedisConfig(url=server.url))
        other_redis = RedisConnector(RedisConfig(url=server.url))
        worker = BreakerBoard(CONFIG, worker_redis)
        other = BreakerBoard(CONFIG, other_redis)  # another worker or instance
        try:
            server.stop()
            worker.breaker(*DEPLOYMENT)  # first seen now: its registration fails
            server.start()  # same port
            assert NAME not in [s["name"] for s in other.snapshot()]

            deadline = time.monotonic() + 15  # the connector skips Redis for its cool-down (1 s) after a failure
            while NAME not in [s["name"] for s in other.snapshot()] and time.monotonic() < deadline:
                worker.breaker(*DEPLOYMENT)  # the deployment keeps serving requests
                time.sleep(0.2)
            assert NAME in [s["name"] for s in other.snapshot()], "never registered in the fleet-wide index"
        finally:
            worker_redis.close()
            other_redis.close()


def test_registration_costs_nothing_once_done(tmp_path):
    with redis_process(tmp_path) as server:
        connector = RedisConnector(RedisConfig(url=server.url))
        board = BreakerBoard(CONFIG, connector)
        try:
            board.breaker(*DEPLOYMENT)
            client = server.client()
            before = int(client.info("stats")["total_commands_processed"])
            for _ in range(20):
                board.breaker(*DEPLOYMENT)
            after = int(client.info("stats")["total_commands_processed"])
            assert after - before == 1  # only the INFO call above: lookups of a registered deployment send nothing
            assert client.hexists("LLMGateway:cb:index", NAME)
        finally:
            connector.close()
