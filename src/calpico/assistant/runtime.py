"""`AssistantRuntime`: an assistant member at work — it reads its conversations' events and answers.

It runs on the assistant's own device (its own `Client` and store): inside
the owner's process as a second client, or on a host the owner runs
(``calpico assistant serve``). It sees only what its device receives, so only
conversations it was added to, from the moment it joined.

When it speaks, per conversation (the owner's `AssistantSettings` there,
within the room's policy):

- the owner's private chat: every message of the owner;
- ``mention`` (default): when a message mentions its device or ``@Name``;
- ``auto``: also when the model, asked YES/NO, judges that a message calls
  for it — at most ``auto_replies`` per ``auto_window`` seconds, and the
  room must allow ``auto`` (a ``mention`` room caps it to mentions);
- ``off``: never; a room whose policy is ``none`` never has it at all;
- ``away`` (DMs): it answers the other person on the owner's behalf, each
  reply marked ``away`` (rate-limited too).

It is active in a conversation only once its owner added it there or sent
it settings there. Every message it sends is an `AssistantReply`
(``ai_generated``), streamed: the first part as soon as the first token
arrives, updates at most every ``update_interval`` seconds, then the final
text. With no provider it says so (`NO_PROVIDER_NOTICE`). Tools whose input
would leave the end-to-end boundary wait for the requester's confirmation:
a 👍 reaction or a "yes" reply to the assistant's question, within
``confirm_ttl`` seconds; "no" cancels.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from calpico.client import AssistantMember, Client, Conversations
from calpico.client.errors import CalpicoError
from calpico.client.events import (
    AssistantCardChanged,
    ConversationAdded,
    Event,
    InviteReceived,
    MemberJoined,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    MessageRequestReceived,
    ReactionChanged,
    ReceiptReceived,
    TypingChanged,
)
from calpico.client.ids import new_message_id, now_ms
from calpico.client.store import Conversation, ConversationKind, Message
from calpico.wire.app import (
    AssistantCard,
    AssistantMode,
    AssistantPolicy,
    AssistantReply,
    AssistantSettings,
    Attachment,
    InferenceLocation,
    Text,
    decode_app_message,
)

from .errors import ProviderError, ToolError
from .prompt import ContextLimits, build_prompt, judge_prompt, untrusted
from .providers.base import NO_PROVIDER_NOTICE, PromptMessage, Provider, TextDelta, ToolCall, ToolSpec
from .recent import RecentMessages
from .state import AssistantState, Memory, RoomState
from .tools import Tool, ToolBox, ToolContext, WebSearch

__all__ = ["AssistantRuntime", "RuntimeOptions"]

log = logging.getLogger("calpico.assistant")

YES = re.compile(r"^\s*(yes|y|ok|okay|go|go ahead|confirm|sure)\b", re.IGNORECASE)
NO = re.compile(r"^\s*(no|n|cancel|stop|don't|do not)\b", re.IGNORECASE)
CONFIRM_EMOJI = frozenset({"👍", "✅", "👌"})

# Events that never change a conversation's kind, policy, members or cards: the view stays. (Its own
# streamed updates are MessageEdited: dropping the view on them made every next mention read the store.)
_KEEPS_VIEW = (MessageReceived, MessageEdited, MessageDeleted, ReactionChanged, ReceiptReceived, TypingChanged)


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    limits: ContextLimits = field(default_factory=ContextLimits)
    update_interval: float = 0.3  # seconds between streamed updates of one reply
    auto_replies: int = 3  # auto mode: at most this many answers ...
    auto_window: float = 60.0  # ... per this many seconds, per conversation
    judge_gap: float = 1.0  # auto mode: at least this long between two YES/NO questions in a conversation
    away_replies: int = 3
    away_window: float = 600.0
    confirm_provider: bool = False  # ask before sending conversation text to a third-party API
    confirm_ttl: float = 600.0
    images: bool = True
    max_tool_rounds: int = 3


@dataclass(frozen=True, slots=True)
class _View:
    """What the runtime needs to know about one conversation, kept between messages.

    Dropped whenever an event says membership, cards or settings changed, so
    a mention costs no store read (the recent messages are followed in `RecentMessages`).
    """

    conversation: Conversation
    policy: AssistantPolicy
    assistants: dict[str, AssistantMember]
    people: tuple[str, ...]


@dataclass(slots=True)
class _Pending:
    """A boundary-leaving step waiting for the requester's yes."""

    conversation_id: str
    requester: str
    what: str
    expires: float
    reply_to: str | None
    away: bool
    messages: list[PromptMessage]
    call: ToolCall | None  # None: the whole answer waits (a third-party provider)
    rounds: int = 0


class AssistantRuntime:
    """The assistant device's loop. Construct before ``client.start()``; then `start`."""

    def __init__(
        self,
        client: Client,
        chats: Conversations | None = None,
        *,
        provider: Provider | None = None,
        options: RuntimeOptions | None = None,
        web: WebSearch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.chats = chats or Conversations(client)
        self.provider = provider
        self.options = options or RuntimeOptions()
        self.web = web
        self.state = AssistantState(client.store)
        self.memory = Memory(client.store)
        self._tools = ToolBox(images=self.options.images and provider is not None, web=web is not None)
        self._clock = clock
        self._events = client.events()  # subscribed now: nothing is missed before start()
        self._card: AssistantCard | None = None
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._auto: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._away: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._judged: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        self._views: dict[str, _View] = {}
        self._rooms: dict[str, RoomState] = {}
        self.recent = RecentMessages(self._read_recent, self.options.limits.max_messages)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None
        self.busy = 0  # replies in progress (for tests and `serve`'s status)
        self._handling = False

    @property
    def owner(self) -> str:
        return self.client.username

    @property
    def device_id(self) -> str:
        return self.client.device_id

    @property
    def name(self) -> str:
        return self._card.name if self._card is not None else "assistant"

    # --- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the card, start the client (push connection), and process events in the background."""
        self._card = await self.state.card()
        await self.client.start()
        self._loop = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        for task in [*self._tasks, *([self._loop] if self._loop else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._loop] if self._loop else [])]:
            with contextlib.suppress(BaseException):
                await task
        self._events.close()
        if self.provider is not None:
            await self.provider.aclose()
        if self.web is not None:
            await self.web.aclose()
        await self.client.close()

    async def settled(self, timeout: float = 15.0) -> None:
        """Wait until every event received so far is handled and no reply is in progress (tests, `serve`)."""
        async with asyncio.timeout(timeout):
            quiet = 0
            while quiet < 3:
                await asyncio.sleep(0.02)
                idle = not self._events.pending_count() and not self._handling and not self.busy
                quiet = quiet + 1 if idle else 0

    async def _run(self) -> None:
        async for event in self._events:
            self._handling = True
            self.recent.on_event(event)  # before handling: a reply spawned below must see this message
            try:
                await self._handle(event)
            except CalpicoError as exc:
                log.warning("the assistant could not handle %s: %s", type(event).__name__, exc)
            except Exception:
                log.exception("the assistant failed on %s", type(event).__name__)
            finally:
                self._handling = False

    def _spawn(self, coro: Any) -> None:
        async def run() -> None:
            self.busy += 1
            try:
                await coro
            except CalpicoError as exc:
                log.warning("an assistant reply failed: %s", exc)
            except Exception:
                log.exception("an assistant reply failed")
            finally:
                self.busy -= 1

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- events -----------------------------------------------------------------------------------

    async def _view(self, conversation_id: str) -> _View:
        view = self._views.get(conversation_id)
        if view is None:
            conversation = await self.chats.get(conversation_id)
            policy = (await self.chats.settings(conversation_id)).assistant_policy
            assistants = {a.device_id: a for a in await self.chats.assistants(conversation_id)}
            people = tuple(p.username for p in await self.chats.members(conversation_id) if p.device_ids)
            view = self._views[conversation_id] = _View(conversation, policy, assistants, people)
        return view

    async def _read_recent(self, conversation_id: str, limit: int) -> list[Message]:
        return await self.chats.messages(conversation_id, limit=limit)

    async def _room(self, conversation_id: str) -> RoomState:
        room = self._rooms.get(conversation_id)
        if room is None:
            room = self._rooms[conversation_id] = await self.state.room(conversation_id)
        return room

    async def _update_room(self, conversation_id: str, **changes: Any) -> None:
        self._rooms[conversation_id] = await self.state.update_room(conversation_id, **changes)

    async def _handle(self, event: Event) -> None:
        if not isinstance(event, _KEEPS_VIEW):
            self._views.pop(getattr(event, "conversation_id", ""), None)  # membership, cards, settings: look again
        if isinstance(event, ConversationAdded):
            await self._joined(event.conversation.id, event.by)
        elif isinstance(event, InviteReceived):
            await self._joined(event.conversation_id, event.inviter)
        elif isinstance(event, MessageRequestReceived):
            await self._joined(event.conversation_id, event.sender)
        elif isinstance(event, AssistantCardChanged):
            if event.device_id == self.device_id and (self._card is None or event.card.revision >= self._card.revision):
                self._card = event.card
                await self.state.set_card(event.card)
        elif isinstance(event, MemberJoined):
            if not (event.assistant and event.device_id == self.device_id):
                await self._post_card(event.conversation_id)  # newcomers cannot read the card sent before
        elif isinstance(event, MessageReceived):
            await self._message(event.conversation_id, event.message)
        elif isinstance(event, ReactionChanged):
            pending = self._pending.get(event.message_id)
            confirms = pending is not None and not event.removed and event.emoji in CONFIRM_EMOJI
            if confirms and pending is not None and event.username == pending.requester:
                self._confirmed(event.message_id)

    async def _joined(self, conversation_id: str, by: str | None) -> None:
        if by == self.owner:
            await self._update_room(conversation_id, active=True)
        await self._post_card(conversation_id)

    async def _post_card(self, conversation_id: str) -> None:
        if self._card is None:
            return
        card = self._card.model_copy(update=self._stamp())
        with contextlib.suppress(CalpicoError):
            await self.chats.send(conversation_id, card)

    async def _message(self, conversation_id: str, message: Message) -> None:
        if message.sender_device == self.device_id:
            return
        content = decode_app_message(message.content)
        view = await self._view(conversation_id)
        helpers = view.assistants
        from_owner = message.sender_user == self.owner and message.sender_device not in helpers
        if isinstance(content, AssistantSettings):
            if content.assistant_device == self.device_id and from_owner:
                await self._configure(conversation_id, content)
            return
        if message.sender_device in helpers or not isinstance(content, Text):
            return  # other assistants never trigger it (no loops); only texts do
        if await self._answers_pending(conversation_id, message, content):
            return
        conversation = view.conversation
        if conversation.kind is ConversationKind.ASSISTANT:
            if from_owner:
                self._spawn(self._respond(conversation_id, message, away=False))
            return
        room = await self._room(conversation_id)
        if not room.active:
            return
        policy = view.policy
        if policy is AssistantPolicy.NONE:
            return
        mentioned = self._mentioned(content)
        if room.away and conversation.kind is ConversationKind.DM and not from_owner:
            if mentioned or self._allow(
                self._away[conversation_id], self.options.away_replies, self.options.away_window
            ):
                self._spawn(self._respond(conversation_id, message, away=True))
            return
        mode = room.mode
        if mode is AssistantMode.AUTO and policy is not AssistantPolicy.AUTO:
            mode = AssistantMode.MENTION  # the room allows answers only when mentioned
        if mode is AssistantMode.OFF:
            return
        if mentioned:
            self._spawn(self._respond(conversation_id, message, away=False))
        elif mode is AssistantMode.AUTO:
            self._spawn(self._maybe_auto(conversation_id, message))
        elif not self.recent.following(conversation_id):
            self._spawn(self.recent.get(conversation_id))  # read it now, while nobody waits for an answer

    async def _configure(self, conversation_id: str, settings: AssistantSettings) -> None:
        changes: dict[str, Any] = {"active": True}
        for name in ("mode", "instructions", "away", "away_note"):
            value = getattr(settings, name)
            if value is not None:
                changes[name] = value
        await self._update_room(conversation_id, **changes)

    def _mentioned(self, text: Text) -> bool:
        if any(m.device_id == self.device_id for m in text.mentions):
            return True
        name = self.name
        return bool(re.search(rf"(^|\W)@{re.escape(name)}\b", text.body, re.IGNORECASE))

    def _allow(self, times: collections.deque[float], most: int, window: float) -> bool:
        now = self._clock()
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= most:
            return False
        times.append(now)
        return True

    # --- answering --------------------------------------------------------------------------------

    async def _maybe_auto(self, conversation_id: str, message: Message) -> None:
        if self.provider is None:
            return  # without a model there is nobody to judge; mentions still get the notice
        now = self._clock()
        if now - self._judged.get(conversation_id, float("-inf")) < self.options.judge_gap:
            return
        times = self._auto[conversation_id]
        while times and times[0] <= now - self.options.auto_window:
            times.popleft()
        if len(times) >= self.options.auto_replies:
            return
        self._judged[conversation_id] = now
        recent = await self._context(conversation_id, message, judge=True)
        verdict = ""
        async for item in self.provider.stream([PromptMessage(r, c) for r, c in recent]):  # type: ignore[arg-type]
            if isinstance(item, TextDelta):
                verdict += item.text
        if verdict.strip().upper().startswith("YES") and self._allow(
            times, self.options.auto_replies, self.options.auto_window
        ):
            await self._respond(conversation_id, message, away=False)

    async def _context(self, conversation_id: str, trigger: Message, *, judge: bool = False) -> list[tuple[str, str]]:
        view = await self._view(conversation_id)
        conversation = view.conversation
        messages = await self.recent.get(conversation_id)  # no store read once the conversation is followed
        assistants = view.assistants
        people = view.people
        room = await self._room(conversation_id)
        private = conversation.kind is ConversationKind.ASSISTANT
        tools = self._tools.for_conversation(conversation)
        prompt = await build_prompt(
            messages,
            me=self.device_id,
            owner=self.owner,
            card=self._card,
            conversation=conversation,
            people=people,
            assistants=assistants,
            room=room,
            memory=await self.memory.facts() if private else None,  # personal memory: the private chat only
            limits=self.options.limits,
            fetch_text=lambda m: self._attachment_text(conversation_id, m),
            tools_note=_tools_note(tools) if not judge else "",
        )
        if judge:
            return judge_prompt(self.name, self.owner, prompt[1:][-8:])
        return prompt

    async def _attachment_text(self, conversation_id: str, message: Message) -> str | None:
        content = decode_app_message(message.content)
        if not isinstance(content, Attachment) or content.size > 64 * 1024:
            return None
        try:
            data = await self.chats.download(conversation_id, message.message_id)
        except CalpicoError:
            return None
        return data.decode("utf-8", "replace")[: self.options.limits.attachment_chars]

    async def _respond(self, conversation_id: str, trigger: Message, *, away: bool) -> None:
        async with self._locks[conversation_id]:
            if self.provider is None:
                await self._say(conversation_id, NO_PROVIDER_NOTICE, reply_to=trigger.message_id, away=away)
                return
            prompt = [PromptMessage(r, c) for r, c in await self._context(conversation_id, trigger)]  # type: ignore[arg-type]
            settings = self.provider.settings
            if self.options.confirm_provider and settings.inference is InferenceLocation.THIRD_PARTY:
                what = f"this conversation's recent messages to the AI provider at {settings.shown_host} (third party)"
                await self._ask(conversation_id, trigger.sender_user, trigger.message_id, away, prompt, None, what)
                return
            await self._generate(conversation_id, trigger.sender_user, trigger.message_id, away, prompt, 0)

    async def _generate(
        self,
        conversation_id: str,
        requester: str,
        reply_to: str | None,
        away: bool,
        prompt: list[PromptMessage],
        rounds: int,
    ) -> None:
        assert self.provider is not None
        conversation = (await self._view(conversation_id)).conversation
        tools = self._tools.for_conversation(conversation) if rounds < self.options.max_tool_rounds else {}
        specs: Sequence[ToolSpec] = [t.spec for t in tools.values()]
        try:
            text, calls = await self._stream(conversation_id, prompt, specs, reply_to, away)
        except ProviderError as exc:
            await self._say(conversation_id, f"I couldn't get an answer: {exc}", reply_to=reply_to, away=away)
            return
        if not calls:
            if not text:
                await self._say(conversation_id, "(the model gave no answer)", reply_to=reply_to, away=away)
            return
        prompt = [*prompt, PromptMessage("assistant", text, tool_calls=tuple(calls))]
        ctx = self._tool_context(conversation)
        for call in calls:
            tool = tools.get(call.name)
            if tool is None:
                prompt.append(PromptMessage("tool", f"no tool called {call.name}", tool_call_id=call.id))
                continue
            what = tool.leaves_boundary(ctx, call.parsed())
            if what is not None:
                await self._ask(conversation_id, requester, reply_to, away, prompt, call, what, rounds)
                return
            prompt.append(await self._run_tool(ctx, tool, call))
        await self._generate(conversation_id, requester, reply_to, away, prompt, rounds + 1)

    def _tool_context(self, conversation: Conversation) -> ToolContext:
        return ToolContext(
            self.chats,
            conversation,
            self.provider,
            self.memory,
            self._stamp,
            confirm_provider=self.options.confirm_provider
            and self.provider is not None
            and self.provider.settings.inference is InferenceLocation.THIRD_PARTY,
            web=self.web,
        )

    async def _run_tool(self, ctx: ToolContext, tool: Tool, call: ToolCall) -> PromptMessage:
        try:
            result = await tool.run(ctx, call.parsed())
        except (ToolError, ProviderError) as exc:
            result = f"the tool failed: {exc}"
        return PromptMessage("tool", untrusted(f"output of the tool {call.name}", result), tool_call_id=call.id)

    async def _stream(
        self,
        conversation_id: str,
        prompt: list[PromptMessage],
        tools: Sequence[ToolSpec],
        reply_to: str | None,
        away: bool,
    ) -> tuple[str, list[ToolCall]]:
        """Stream one completion into the chat: first part at the first token, bounded updates, then final."""
        assert self.provider is not None
        model = self.provider.settings.model
        text, calls = "", []
        first: str | None = None
        last = 0.0
        async for item in self.provider.stream(prompt, tools):
            if isinstance(item, ToolCall):
                calls.append(item)
                continue
            text += item.text
            if first is None and text.strip():
                first = new_message_id()
                reply = AssistantReply(
                    id=first, sent_at=now_ms(), body=text, reply_to=reply_to, final=False, model=model, away=away
                )
                await self.chats.send(conversation_id, reply)
                last = self._clock()
            elif first is not None and self._clock() - last >= self.options.update_interval:
                await self._update(conversation_id, first, text, final=False, model=model, away=away)
                last = self._clock()
        if first is not None:
            await self._update(conversation_id, first, text, final=True, model=model, away=away)
        return text, calls

    async def _update(
        self, conversation_id: str, first: str, body: str, *, final: bool, model: str, away: bool
    ) -> None:
        update = AssistantReply(**self._stamp(), body=body, updates=first, final=final, model=model, away=away)
        await self.chats.send(conversation_id, update)

    async def _say(self, conversation_id: str, body: str, *, reply_to: str | None, away: bool = False) -> str:
        message = await self.chats.send(
            conversation_id, AssistantReply(**self._stamp(), body=body, reply_to=reply_to, away=away)
        )
        return message.message_id

    # --- confirmations ------------------------------------------------------------------------------

    async def _ask(
        self,
        conversation_id: str,
        requester: str,
        reply_to: str | None,
        away: bool,
        prompt: list[PromptMessage],
        call: ToolCall | None,
        what: str,
        rounds: int = 0,
    ) -> None:
        """Tell the requester what would go where, and wait for their yes (`_answers_pending`, reactions)."""
        question = (
            f"To do this I would send {what}. That leaves our end-to-end encryption. "
            f"{requester}, react 👍 or reply “yes” to go ahead, or “no” to cancel."
        )
        asked = await self._say(conversation_id, question, reply_to=reply_to, away=away)
        self._pending[asked] = _Pending(
            conversation_id,
            requester,
            what,
            self._clock() + self.options.confirm_ttl,
            reply_to,
            away,
            prompt,
            call,
            rounds,
        )

    async def _answers_pending(self, conversation_id: str, message: Message, text: Text) -> bool:
        """A "yes"/"no" from the requester to a waiting question (a reply to it, or their next message)."""
        for asked, pending in list(self._pending.items()):
            if pending.conversation_id != conversation_id or pending.requester != message.sender_user:
                continue
            if text.reply_to not in (None, asked):
                continue
            if pending.expires < self._clock():
                self._pending.pop(asked, None)
                continue
            if YES.match(text.body):
                self._confirmed(asked)
                return True
            if NO.match(text.body):
                self._pending.pop(asked, None)
                await self._say(conversation_id, "Cancelled: nothing was sent.", reply_to=message.message_id)
                return True
        return False

    def _confirmed(self, asked: str) -> None:
        pending = self._pending.pop(asked, None)
        if pending is None or pending.expires < self._clock():
            return
        self._spawn(self._resume(pending))

    async def _resume(self, pending: _Pending) -> None:
        async with self._locks[pending.conversation_id]:
            prompt = list(pending.messages)
            if pending.call is not None:
                conversation = (await self._view(pending.conversation_id)).conversation
                tool = self._tools.for_conversation(conversation).get(pending.call.name)
                if tool is None:
                    return
                prompt.append(await self._run_tool(self._tool_context(conversation), tool, pending.call))
            await self._generate(
                pending.conversation_id, pending.requester, pending.reply_to, pending.away, prompt, pending.rounds + 1
            )

    def _stamp(self) -> dict[str, Any]:
        return {"id": new_message_id(), "sent_at": now_ms()}


def _tools_note(tools: dict[str, Tool]) -> str:
    if not tools:
        return ""
    return "You can use these tools when they help: " + ", ".join(sorted(tools)) + "."
