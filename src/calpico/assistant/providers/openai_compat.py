"""The standard provider: any OpenAI-compatible endpoint through the official ``openai`` SDK.

OpenAI, vLLM, Ollama (``/v1``), llama.cpp server and LM Studio all speak the
Chat Completions API with server-sent-event streaming, and most the Images
API. Configured by base URL, key and model (`ProviderSettings`).

The completion request goes through the SDK's generic ``client.post`` (its
documented way to call an endpoint with a body as-is) rather than
``chat.completions.create``: ``create`` first runs its request-params
transform, which walks every message of the prompt recursively through the
TypedDict annotations — 20–70 ms for a 40-message context on a busy 2-core
machine, before a byte is sent, on every reply's critical path. Our
messages are plain JSON already (strings, tool calls), so nothing needs
transforming; the SDK still does the HTTP, retries, errors and parses the
stream into `ChatCompletionChunk`s. Tool calls
arrive in streamed fragments (``delta.tool_calls[i]``: the id and name
first, the arguments in pieces) and are put together here. Every failure of
the SDK becomes a `ProviderError` with one readable line.

The ``openai`` package (about 40 MB resident once imported) is imported when
a provider is made, not with this module: every ``calpico`` command, the
server included, imports the assistant package, and most never talk to a
model.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

from ..errors import ProviderError
from .base import PromptMessage, ProviderSettings, TextDelta, ToolCall, ToolSpec

__all__ = ["OpenAICompatibleProvider"]


def _message(m: PromptMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    return out


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


class OpenAICompatibleProvider:
    """`Provider` over ``openai.AsyncOpenAI`` pointed at ``settings.base_url``."""

    def __init__(self, settings: ProviderSettings) -> None:
        import openai  # here, not at the top: see the module docstring

        self.settings = settings
        self._errors = openai.OpenAIError
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",  # local servers take any key; the SDK wants one
            timeout=settings.timeout,
            max_retries=1,
        )

    async def stream(
        self, messages: Sequence[PromptMessage], tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[TextDelta | ToolCall]:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [_message(m) for m in messages],
            "stream": True,
        }
        if tools:
            body["tools"] = [_tool(t) for t in tools]
        from openai import AsyncStream
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        calls: dict[int, dict[str, str]] = {}
        try:
            stream = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )
            async for chunk in stream:
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        yield TextDelta(delta.content)
                    for piece in delta.tool_calls or ():
                        call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                        if piece.id:
                            call["id"] = piece.id
                        if piece.function is not None:
                            call["name"] += piece.function.name or ""
                            call["arguments"] += piece.function.arguments or ""
        except self._errors as exc:
            raise ProviderError(f"the AI provider at {self.settings.shown_host} failed: {_reason(exc)}") from exc
        for index in sorted(calls):
            call = calls[index]
            if call["name"]:
                yield ToolCall(call["id"] or f"call_{index}", call["name"], call["arguments"])

    async def image(self, prompt: str) -> tuple[bytes, str]:
        try:
            answer = await self._client.images.generate(
                model=self.settings.image_model or None,
                prompt=prompt,
                n=1,
                response_format="b64_json",
            )
        except self._errors as exc:
            raise ProviderError(f"the image endpoint at {self.settings.shown_host} failed: {_reason(exc)}") from exc
        if not answer.data or not answer.data[0].b64_json:
            raise ProviderError("the image endpoint returned no image")
        try:
            data = base64.b64decode(answer.data[0].b64_json, validate=True)
        except ValueError as exc:
            raise ProviderError("the image endpoint returned an image that is not base64") from exc
        return data, "image/png" if data.startswith(b"\x89PNG") else "application/octet-stream"

    async def aclose(self) -> None:
        await self._client.close()


def _reason(exc: openai.OpenAIError) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect"
    return " ".join(str(exc).split())[:200]
