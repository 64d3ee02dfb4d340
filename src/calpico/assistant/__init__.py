"""Assistant members (ARCHITECTURE §5), built on the SDK's public API only (`calpico.client`, `calpico.wire`).

An assistant is a member of a conversation with a device of its own, owned
by one person and shown to everyone as "Pico (alice's assistant)" with a
card its owner's device signed. Modules: `owner` (`Assistants`: create,
rename, personality, add/remove, settings, away, share), `runtime`
(`AssistantRuntime`: the assistant device answering in its conversations),
`prompt` (context: who said what, bounded, untrusted text tagged),
`recent` (each conversation's latest messages, followed in memory),
`tools` (history search, images, checklists and polls, web search,
memory), `state` (its settings and the owner's personal memory, sealed in
its store), `providers` (one interface; OpenAI-compatible first), `errors`.
See docs/assistant.md.
"""

from __future__ import annotations

from .errors import AssistantError, NoProvider, NoSuchAssistant, ProviderError, ToolError
from .owner import Assistants, NewAssistant, describe_card, where_it_runs
from .prompt import ContextLimits
from .providers import (
    NO_PROVIDER_NOTICE,
    OpenAICompatibleProvider,
    PromptMessage,
    Provider,
    ProviderSettings,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from .recent import RecentMessages
from .runtime import AssistantRuntime, RuntimeOptions
from .state import AssistantState, Memory, OwnedAssistant, RoomState
from .tools import WebSearch

__all__ = [
    "NO_PROVIDER_NOTICE",
    "AssistantError",
    "AssistantRuntime",
    "AssistantState",
    "Assistants",
    "ContextLimits",
    "Memory",
    "NewAssistant",
    "NoProvider",
    "NoSuchAssistant",
    "OpenAICompatibleProvider",
    "OwnedAssistant",
    "PromptMessage",
    "Provider",
    "ProviderError",
    "ProviderSettings",
    "RecentMessages",
    "RoomState",
    "RuntimeOptions",
    "TextDelta",
    "ToolCall",
    "ToolError",
    "ToolSpec",
    "WebSearch",
    "describe_card",
    "where_it_runs",
]
