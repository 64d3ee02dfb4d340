"""A local OpenAI-compatible HTTP server for the assistant's tests: real HTTP, real SSE streaming, every request kept.

`FakeLLM` runs a Starlette app under uvicorn in a thread on 127.0.0.1 (the
same way the tests run the Calpico server). It answers

- ``POST /v1/chat/completions`` (streamed as server-sent events, or not):
  a deterministic "model" (`script`) that answers YES/NO to the auto-mode
  question (YES when the newest message asks something: it ends with "?"),
  calls a tool when the newest message asks for one ("search the web for …",
  "remember …", "make a checklist: a, b", "draw …", "poll: q? a / b"), and
  otherwise streams a sentence in several chunks;
- ``POST /v1/images/generations``: a tiny PNG, base64;
- ``GET /search?q=``: a web search endpoint with one result.

Every request's JSON is appended to `requests` (with its path), so tests
read exactly what each prompt contained. ``first_token_delay`` delays the
first streamed chunk (the provider's own time to first token) and
`first_token_at` records when each stream's first chunk left.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from calpico.server.thread import ServerThread

from ..server.procs import free_port

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def text(self) -> str:
        """Everything the prompt said, one string (for "never appears" checks)."""
        return "\n".join(str(m.get("content") or "") for m in self.messages)

    @property
    def system(self) -> str:
        return next((str(m.get("content")) for m in self.messages if m.get("role") == "system"), "")

    @property
    def is_judge(self) -> bool:
        return "Answer only YES or NO" in self.system

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools", [])]


@dataclass
class FakeLLM:
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    first_token_at: list[float] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _running: ServerThread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def search_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/search"

    def chats(self, *, judge: bool | None = False) -> list[Recorded]:
        found = [r for r in self.requests if r.path == "/v1/chat/completions"]
        return found if judge is None else [r for r in found if r.is_judge == judge]

    def searches(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/search"]

    # --- the app ------------------------------------------------------------------------------

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(Recorded("/v1/chat/completions", body, time.time()))
        reply = script(body)
        if not body.get("stream"):
            return JSONResponse(_completion(body, reply))
        return StreamingResponse(self._sse(body, reply), media_type="text/event-stream")

    async def _sse(self, body: dict[str, Any], reply: dict[str, Any]) -> AsyncIterator[bytes]:
        if self.first_token_delay:
            await asyncio.sleep(self.first_token_delay)
        first = True
        for chunk in _chunks(body, reply):
            if first:
                self.first_token_at.append(time.perf_counter())
                first = False
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        yield b"data: [DONE]\n\n"

    async def _image(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(Recorded("/v1/images/generations", body, time.time()))
        return JSONResponse({"created": int(time.time()), "data": [{"b64_json": base64.b64encode(PNG).decode()}]})

    async def _search(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        self.requests.append(Recorded("/search", {"q": query}, time.time()))
        return JSONResponse(
            {"results": [{"title": "Green Table", "url": "https://example.org/green", "snippet": f"best {query}"}]}
        )

    def start(self) -> FakeLLM:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/images/generations", self._image, methods=["POST"]),
                Route("/search", self._search, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        running = ServerThread(config, "the fake LLM server")
        running.start(20)
        self._running = running
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop(10)


# --- the scripted "model" ---------------------------------------------------------------------------


def _last_user(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def script(body: dict[str, Any]) -> dict[str, Any]:
    """What the fake model answers: ``{"text": ...}`` or ``{"tool": name, "arguments": {...}}``."""
    messages = body.get("messages", [])
    system = str(messages[0].get("content", "")) if messages else ""
    if "Answer only YES or NO" in system:
        last_line = _last_user(messages).strip().splitlines()[-1] if _last_user(messages).strip() else ""
        return {"text": "YES" if last_line.rstrip().endswith("?") else "NO"}
    tools = {t["function"]["name"] for t in body.get("tools", [])}
    if messages and messages[-1].get("role") == "tool":
        return {"text": f"Done. {str(messages[-1].get('content'))[:200]}"}
    last = _last_user(messages)
    wanted = [
        (r"search the web for (.+)", "web_search", lambda m: {"query": m.group(1).strip(" ?.")}),
        (r"remember (?:that )?(.+)", "remember", lambda m: {"fact": m.group(1).strip(" .")}),
        (r"make a checklist: (.+)", "make_checklist", lambda m: {"title": "plan", "items": m.group(1).split(", ")}),
        (r"poll: (.+\?) (.+)", "make_poll", lambda m: {"question": m.group(1), "options": m.group(2).split(" / ")}),
        (r"draw (.+)", "create_image", lambda m: {"prompt": m.group(1)}),
    ]
    for pattern, tool, arguments in wanted:
        match = re.search(pattern, last, re.IGNORECASE)
        if match and tool in tools:
            return {"tool": tool, "arguments": arguments(match)}
    return {"text": f"Here is my answer after reading {len(messages)} messages. Have a nice day."}


def _chunks(body: dict[str, Any], reply: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": body.get("model", "m")}
    out = []
    if "tool" in reply:
        args = json.dumps(reply["arguments"])
        half = len(args) // 2
        head = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": reply["tool"], "arguments": args[:half]},
        }
        tail = {"index": 0, "function": {"arguments": args[half:]}}
        for piece in (head, tail):
            out.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]})
        out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
        return out
    words = re.findall(r"\S+\s*", reply["text"])
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        out.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return out


def _completion(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("text")}
    if "tool" in reply:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": reply["tool"], "arguments": json.dumps(reply["arguments"])},
            }
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": body.get("model", "m"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
