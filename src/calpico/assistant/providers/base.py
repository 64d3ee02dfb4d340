"""The one provider interface every LLM backend implements (ARCHITECTURE §5).

A provider streams a chat completion as `TextDelta`s and `ToolCall`s, and
can make an image. `ProviderSettings` is what an owner configures (base URL,
key, model, where inference runs); it is kept sealed in the assistant
device's store. Without a provider the assistant answers with
`NO_PROVIDER_NOTICE`, never with made-up text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from calpico.wire.app import InferenceLocation

__all__ = [
    "NO_PROVIDER_NOTICE",
    "PromptMessage",
    "Provider",
    "ProviderSettings",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
]

NO_PROVIDER_NOTICE = (
    "I can't answer yet: no AI provider is configured for me, and I won't make up an answer. "
    "My owner can set one with `calpico assistant serve --base-url URL --model NAME` "
    "(the API key in $CALPICO_ASSISTANT_API_KEY), or `calpico assistant create ... --base-url URL --model NAME`; "
    "any OpenAI-compatible server works (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio)."
)


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One chat message of a prompt (OpenAI-style roles)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: a name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it

    def parsed(self) -> dict[str, Any]:
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to reach an OpenAI-compatible endpoint, and what the card says about it."""

    base_url: str
    model: str
    api_key: str = ""
    image_model: str = ""
    inference: InferenceLocation = InferenceLocation.THIRD_PARTY
    host: str = ""  # the self-hosted server's or the API's name, shown on the card
    provider: str = "openai-compatible"
    timeout: float = 60.0
    extra: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> ProviderSettings:
        obj = json.loads(data)
        obj["inference"] = InferenceLocation(obj.get("inference", "third_party"))
        return cls(**obj)

    @property
    def shown_host(self) -> str:
        if self.host:
            return self.host
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).hostname or self.base_url


class Provider(Protocol):
    """An LLM backend. ``settings`` says where prompts go (shown on the card)."""

    settings: ProviderSettings

    def stream(
        self, messages: Sequence[PromptMessage], tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[TextDelta | ToolCall]:
        """Stream one completion: text as it comes, then any tool calls. Raises `ProviderError`."""
        ...

    async def image(self, prompt: str) -> tuple[bytes, str]:
        """Make one image; returns its bytes and media type. Raises `ProviderError`."""
        ...

    async def aclose(self) -> None: ...
