"""The assistant's tools: search the conversation, make images, plan together, search the web, remember.

Each tool is offered to the model as a function (`ToolSpec`). Tools that
stay inside the end-to-end boundary run at once: ``search_history`` reads
this conversation's messages on the assistant's own device; ``make_checklist``
and ``make_poll`` send a `Checklist`/`Poll` members tick or vote on;
``remember``/``forget`` (the owner's private chat only) keep personal memory
in the assistant's store. Tools whose input leaves the boundary say so
(`Tool.leaves_boundary`): ``web_search`` sends its query to the
operator-configured search endpoint, ``create_image`` its prompt to the
provider's image endpoint (a leak only when that provider is a third-party
API and the owner asked for confirmations). The runtime asks the requester
to confirm those first, naming what goes where.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from calpico.client import Conversations
from calpico.client.store import Conversation, ConversationKind
from calpico.wire.app import AssistantReply, Checklist, Poll, Text, decode_app_message

from .errors import ToolError
from .providers.base import Provider, ToolSpec
from .state import Memory

__all__ = ["Tool", "ToolBox", "ToolContext", "WebSearch"]


@dataclass(slots=True)
class ToolContext:
    """What a tool may use: the conversation, the SDK, the provider, the memory, and how to stamp messages."""

    chats: Conversations
    conversation: Conversation
    provider: Provider | None
    memory: Memory
    stamp: Callable[[], dict[str, Any]]
    confirm_provider: bool = False
    web: WebSearch | None = None
    sent: list[str] = field(default_factory=list)  # ids of messages the tools sent


@dataclass(frozen=True, slots=True)
class Tool:
    spec: ToolSpec
    run: Callable[[ToolContext, dict[str, Any]], Awaitable[str]]
    boundary: Callable[[ToolContext, dict[str, Any]], str | None] = lambda ctx, args: None

    def leaves_boundary(self, ctx: ToolContext, args: dict[str, Any]) -> str | None:
        """What would leave the end-to-end boundary and where to (None: nothing leaves)."""
        return self.boundary(ctx, args)


class WebSearch:
    """An operator-configured search endpoint: ``GET {url}?q=...`` answering ``{"results":[{title,url,snippet}]}``."""

    def __init__(self, url: str, *, http: httpx.AsyncClient | None = None, timeout: float = 15.0) -> None:
        self.url = url
        self.host = urlsplit(url).hostname or url
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def search(self, query: str, limit: int = 5) -> list[dict[str, str]]:
        try:
            response = await self._http.get(self.url, params={"q": query})
            response.raise_for_status()
            results = response.json().get("results", [])
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise ToolError(f"the web search at {self.host} failed: {type(exc).__name__}") from exc
        out = []
        for item in results[:limit] if isinstance(results, list) else []:
            if isinstance(item, dict):
                out.append({k: str(item.get(k, ""))[:500] for k in ("title", "url", "snippet")})
        return out

    async def aclose(self) -> None:
        await self._http.aclose()


def _string(args: dict[str, Any], name: str, limit: int = 1000) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"the tool needs a non-empty {name!r}")
    return value.strip()[:limit]


def _strings(args: dict[str, Any], name: str, least: int, most: int) -> tuple[str, ...]:
    value = args.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ToolError(f"the tool needs a list of texts {name!r}")
    items = tuple(v.strip()[:256] for v in value)[:most]
    if len(items) < least:
        raise ToolError(f"the tool needs at least {least} {name}")
    return items


async def _search_history(ctx: ToolContext, args: dict[str, Any]) -> str:
    words = [w.lower() for w in _string(args, "query", 200).split()]
    found = []
    for message in reversed(await ctx.chats.messages(ctx.conversation.id, limit=1000)):
        content = decode_app_message(message.content)
        body = content.body if isinstance(content, Text | AssistantReply) else None
        if body and all(w in body.lower() for w in words):
            found.append(f"[{message.sender_user}]: {body[:300]}")
        if len(found) >= 8:
            break
    return "\n".join(reversed(found)) or "no message of this conversation matches"


async def _make_checklist(ctx: ToolContext, args: dict[str, Any]) -> str:
    title = str(args.get("title") or "")[:256]
    items = _strings(args, "items", 1, 50)
    sent = await ctx.chats.send(ctx.conversation.id, Checklist(title=title, items=items, **ctx.stamp()))
    ctx.sent.append(sent.message_id)
    return f"checklist {title!r} with {len(items)} items posted; members can tick items"


async def _make_poll(ctx: ToolContext, args: dict[str, Any]) -> str:
    question = _string(args, "question", 1000)
    options = _strings(args, "options", 2, 12)
    multiple = bool(args.get("multiple", False))
    sent = await ctx.chats.send(
        ctx.conversation.id, Poll(question=question, options=options, multiple=multiple, **ctx.stamp())
    )
    ctx.sent.append(sent.message_id)
    return f"poll posted with {len(options)} options; members can vote"


async def _create_image(ctx: ToolContext, args: dict[str, Any]) -> str:
    prompt = _string(args, "prompt", 2000)
    if ctx.provider is None:
        raise ToolError("no AI provider is configured, so no image can be made")
    data, media_type = await ctx.provider.image(prompt)
    sent = await ctx.chats.send_attachment(
        ctx.conversation.id, data, name="image.png", media_type=media_type, caption=f"AI-generated image: {prompt}"
    )
    ctx.sent.append(sent.message_id)
    return f"image made and shared in the conversation as an encrypted attachment ({len(data)} bytes)"


def _image_boundary(ctx: ToolContext, args: dict[str, Any]) -> str | None:
    if ctx.provider is None or not ctx.confirm_provider:
        return None
    prompt = str(args.get("prompt", ""))[:300]
    return f"the image prompt “{prompt}” to the image endpoint at {ctx.provider.settings.shown_host}"


async def _web_search(ctx: ToolContext, args: dict[str, Any]) -> str:
    query = _string(args, "query", 300)
    if ctx.web is None:
        raise ToolError("no web search endpoint is configured")
    results = await ctx.web.search(query)
    if not results:
        return "no results"
    return "\n".join(f"- {r['title']} ({r['url']}): {r['snippet']}" for r in results)


def _web_boundary(ctx: ToolContext, args: dict[str, Any]) -> str | None:
    host = ctx.web.host if ctx.web is not None else "the web search endpoint"
    return f"the search words “{str(args.get('query', ''))[:300]}” to the web search at {host}"


async def _remember(ctx: ToolContext, args: dict[str, Any]) -> str:
    fact = _string(args, "fact", 1000)
    await ctx.memory.remember(fact)
    return f"remembered: {fact}"


async def _forget(ctx: ToolContext, args: dict[str, Any]) -> str:
    containing = str(args.get("containing") or "")
    gone = await ctx.memory.forget(containing)
    return f"forgot {gone} fact(s)"


def _object(properties: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


_TEXT = {"type": "string"}
_LIST = {"type": "array", "items": {"type": "string"}}

SEARCH_HISTORY = Tool(
    ToolSpec(
        "search_history",
        "Search this conversation's earlier messages (on this device).",
        _object({"query": _TEXT}, ["query"]),
    ),
    _search_history,
)
MAKE_CHECKLIST = Tool(
    ToolSpec(
        "make_checklist",
        "Post a shared checklist members can tick.",
        _object({"title": _TEXT, "items": _LIST}, ["items"]),
    ),
    _make_checklist,
)
MAKE_POLL = Tool(
    ToolSpec(
        "make_poll",
        "Post a poll members can vote on.",
        _object({"question": _TEXT, "options": _LIST, "multiple": {"type": "boolean"}}, ["question", "options"]),
    ),
    _make_poll,
)
CREATE_IMAGE = Tool(
    ToolSpec("create_image", "Make an image from a description and share it.", _object({"prompt": _TEXT}, ["prompt"])),
    _create_image,
    _image_boundary,
)
WEB_SEARCH = Tool(
    ToolSpec(
        "web_search",
        "Search the web (leaves the encrypted chat: asks the requester first).",
        _object({"query": _TEXT}, ["query"]),
    ),
    _web_search,
    _web_boundary,
)
REMEMBER = Tool(
    ToolSpec(
        "remember", "Remember a fact about your owner for later private chats.", _object({"fact": _TEXT}, ["fact"])
    ),
    _remember,
)
FORGET = Tool(
    ToolSpec("forget", "Forget remembered facts containing a text (all if empty).", _object({"containing": _TEXT}, [])),
    _forget,
)


class ToolBox:
    """The tools offered in one conversation."""

    def __init__(self, *, images: bool, web: bool) -> None:
        self._images = images
        self._web = web

    def for_conversation(self, conversation: Conversation) -> dict[str, Tool]:
        tools = [SEARCH_HISTORY, MAKE_CHECKLIST, MAKE_POLL]
        if self._images:
            tools.append(CREATE_IMAGE)
        if self._web:
            tools.append(WEB_SEARCH)
        if conversation.kind is ConversationKind.ASSISTANT:
            tools += [REMEMBER, FORGET]
        return {t.spec.name: t for t in tools}
