"""LLM providers: one interface (`base.Provider`); the standard one speaks the OpenAI-compatible API."""

from __future__ import annotations

from .base import NO_PROVIDER_NOTICE, PromptMessage, Provider, ProviderSettings, TextDelta, ToolCall, ToolSpec
from .openai_compat import OpenAICompatibleProvider

__all__ = [
    "NO_PROVIDER_NOTICE",
    "OpenAICompatibleProvider",
    "PromptMessage",
    "Provider",
    "ProviderSettings",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
]
