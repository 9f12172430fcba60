"""OpenAI-only fields: forwarded to providers that take them, refused (never dropped) for those that cannot."""

from __future__ import annotations

import pytest

from llmgateway.providers import registry
from llmgateway.providers.openai import OpenAIProvider
from tests.fakes.openai import FakeOpenAI
from tests.openai_compat.sdk import import_openai

openai = import_openai()

HELLO = [{"role": "user", "content": "hello there"}]


class PlainChatProvider(OpenAIProvider):
    """An upstream that speaks OpenAI's wire format but takes no field beyond the gateway's own."""

    name = "plainchat"
    accepts_openai_extras = False
    inferred_prefixes = ()
    known_models = ()


@pytest.fixture
def gateway_with_plain(make_app, serve, fake_openai, monkeypatch):
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "plainchat", f"{__name__}:PlainChatProvider")
    upstream = {"api_key": FakeOpenAI.api_key, "base_url": fake_openai.url + "/v1"}
    return serve(make_app(providers={"plainchat": upstream}))


def test_plain_fields_reach_a_provider_without_openai_extras(gateway_with_plain, fake_openai):
    completion = gateway_with_plain.client().chat.completions.create(
        model="plainchat.small-1", messages=HELLO, temperature=0.1, max_tokens=2, user="bob"
    )

    assert completion.choices[0].finish_reason == "length"
    sent = fake_openai.requests[-1]["json"]
    assert sent["model"] == "small-1" and sent["temperature"] == 0.1 and sent["user"] == "bob"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"seed": 7}, "seed"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),  # response_format is translated for every provider
        ({"presence_penalty": 0.5, "frequency_penalty": 0.5}, "frequency_penalty"),
        ({"extra_body": {"some_future_field": True}}, "some_future_field"),
    ],
)
def test_openai_only_fields_are_refused_for_such_a_provider_naming_the_field(
    gateway_with_plain, fake_openai, kwargs, param
):
    sdk = gateway_with_plain.client()
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="plainchat.small-1", messages=HELLO, **kwargs)

    assert caught.value.param == param and caught.value.code == "invalid_request"
    assert f"'{param}'" in caught.value.message and "plainchat" in caught.value.message
    assert fake_openai.requests == []  # refused before any upstream call
    [row] = gateway_with_plain.rows(1)
    assert row["status_code"] == 400 and row["provider"] == "plainchat" and row["endpoint"] == "openai_chat"


def test_streams_refuse_them_too(gateway_with_plain, fake_openai):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway_with_plain.client().chat.completions.create(
            model="plainchat.small-1", messages=HELLO, stream=True, seed=1
        )
    assert caught.value.param == "seed"
    assert fake_openai.requests == []


def test_null_and_neutral_values_are_not_refused(gateway_with_plain, fake_openai):
    gateway_with_plain.client().chat.completions.create(
        model="plainchat.small-1", messages=HELLO, extra_body={"seed": None, "tools": [], "logprobs": False}
    )
    sent = fake_openai.requests[-1]["json"]
    assert not {"seed", "tools", "logprobs"} & set(sent)
