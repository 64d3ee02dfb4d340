"""The OpenAI-compatible provider against the local fake server: streaming, tool calls, images, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from calpico.assistant import (
    OpenAICompatibleProvider,
    PromptMessage,
    ProviderError,
    ProviderSettings,
    TextDelta,
    ToolCall,
)
from calpico.assistant.tools import WEB_SEARCH
from calpico.wire.app import InferenceLocation

from .fake_llm import PNG, FakeLLM


@pytest_asyncio.fixture
async def provider(llm: FakeLLM) -> AsyncIterator[OpenAICompatibleProvider]:
    llm.requests.clear()
    made = OpenAICompatibleProvider(ProviderSettings(base_url=llm.base_url, model="fake-7b", api_key="sk-test"))
    yield made
    await made.aclose()


async def test_text_streams_in_pieces(provider: OpenAICompatibleProvider, llm: FakeLLM) -> None:
    items = [i async for i in provider.stream([PromptMessage("system", "be brief"), PromptMessage("user", "hi")])]
    assert len(items) > 3 and all(isinstance(i, TextDelta) for i in items)
    assert "".join(i.text for i in items if isinstance(i, TextDelta)).startswith("Here is my answer")
    [request] = llm.chats()
    assert request.body["stream"] is True and request.body["model"] == "fake-7b"
    assert request.messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


async def test_a_tool_call_is_put_together_from_its_fragments(provider: OpenAICompatibleProvider, llm: FakeLLM) -> None:
    items = [i async for i in provider.stream([PromptMessage("user", "search the web for tents")], [WEB_SEARCH.spec])]
    [call] = items
    assert isinstance(call, ToolCall) and call.name == "web_search" and call.parsed() == {"query": "tents"}
    assert llm.chats()[0].tool_names == ["web_search"]
    # The tool's result goes back as a tool message naming the call.
    follow = [
        PromptMessage("assistant", "", tool_calls=(call,)),
        PromptMessage("tool", "3 shops", tool_call_id=call.id),
    ]
    text = "".join([i.text async for i in provider.stream(follow) if isinstance(i, TextDelta)])
    assert text.startswith("Done. 3 shops")
    sent = llm.chats()[-1].messages
    assert sent[0]["tool_calls"][0]["function"]["name"] == "web_search" and sent[1]["tool_call_id"] == call.id


async def test_images_come_back_as_bytes(provider: OpenAICompatibleProvider, llm: FakeLLM) -> None:
    data, media_type = await provider.image("a red tent")
    assert data == PNG and media_type == "image/png"
    assert [r.body["prompt"] for r in llm.requests if r.path == "/v1/images/generations"] == ["a red tent"]


async def test_failures_are_provider_errors(llm: FakeLLM) -> None:
    wrong = OpenAICompatibleProvider(ProviderSettings(base_url=llm.base_url + "/nope", model="m"))
    with pytest.raises(ProviderError, match="HTTP 404"):
        [i async for i in wrong.stream([PromptMessage("user", "hi")])]
    await wrong.aclose()
    gone = OpenAICompatibleProvider(ProviderSettings(base_url="http://127.0.0.1:9/v1", model="m", timeout=2))
    with pytest.raises(ProviderError, match="cannot connect"):
        [i async for i in gone.stream([PromptMessage("user", "hi")])]
    await gone.aclose()


def test_settings_round_trip_and_name_where_inference_runs() -> None:
    settings = ProviderSettings(
        base_url="https://gpu.lan:8000/v1", model="llama", api_key="k", inference=InferenceLocation.SELF_HOSTED
    )
    assert ProviderSettings.decode(settings.encode()) == settings
    assert settings.shown_host == "gpu.lan"
