"""The exceptions `calpico.assistant` raises (all are `calpico.client.errors.CalpicoError`s: one-line ``str``).

::

    AssistantError                 root
    ├── ProviderError              the LLM provider failed or answered something unusable
    │   └── NoProvider             no provider is configured: the assistant says so, never pretends
    ├── ToolError                  a tool failed (web search endpoint, image endpoint, bad arguments)
    └── NoSuchAssistant            no assistant of ours by that name or device id
"""

from __future__ import annotations

from calpico.client.errors import CalpicoError

__all__ = ["AssistantError", "NoProvider", "NoSuchAssistant", "ProviderError", "ToolError"]


class AssistantError(CalpicoError):
    """Something about an assistant member failed."""


class ProviderError(AssistantError):
    """The LLM provider could not be reached or answered something unusable."""


class NoProvider(ProviderError):
    """No LLM provider is configured for this assistant."""


class ToolError(AssistantError):
    """A tool could not do what the model asked."""


class NoSuchAssistant(AssistantError):
    """No assistant of this person by that name or device id."""
