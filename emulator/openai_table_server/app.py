"""The ASGI app: OpenAI-compatible routes plus a small `/_control` API for tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .table import Answer, AnswerTable, Rule

__all__ = ["ModelServer", "create_app"]


class ModelServer:
    """The table, the run-time rules and the request log of one server."""

    def __init__(self, table: AnswerTable, max_log: int = 10_000) -> None:
        self.table = table
        self.rules: list[Rule] = []
        self.log: deque[dict[str, Any]] = deque(maxlen=max_log)

    def decide(self, model: str, prompt: str) -> Answer | None:
        """The table's answer, with the first matching rule's delay or failure applied."""
        answer = self.table.answer(model, prompt)
        if answer is None:
            return None
        for rule in self.rules:
            if rule.matches(model, prompt):
                if rule.times is not None:
                    rule.times -= 1
                status = rule.status if rule.status is not None else answer.status
                return Answer(answer.text, rule.delay or answer.delay, status)
        return answer


def _prompt_of_chat(body: dict[str, Any]) -> str:
    """The last user message's text (string content or a list of text parts)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(
                    str(part.get("text", "")) for part in content if isinstance(part, dict)
                )
            return str(content or "")
    return ""


def _prompt_of_completion(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return str(prompt[0]) if prompt else ""
    return str(prompt or "")


def _usage(prompt: str, text: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = len(prompt.split()), len(text.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def create_app(server: ModelServer) -> FastAPI:
    """Build the app around `server` (its state is shared with the control routes)."""
    app = FastAPI(title="OpenAI table server", docs_url=None, redoc_url=None)

    async def respond(request: Request, kind: str) -> JSONResponse:
        body = await request.json()
        model = str(body.get("model") or "")
        prompt = _prompt_of_chat(body) if kind == "chat" else _prompt_of_completion(body)
        answer = server.decide(model, prompt)
        entry = {
            "time": time.time(),
            "path": request.url.path,
            "model": model,
            "prompt": prompt,
            "authorization": request.headers.get("authorization"),
        }
        if answer is None:
            server.log.append({**entry, "status": 404})
            error = {
                "message": f"The model `{model}` does not exist",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
            return JSONResponse({"error": error}, status_code=404)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status is not None:
            server.log.append({**entry, "status": answer.status})
            error = {"message": f"injected failure for {prompt[:80]!r}", "type": "server_error"}
            return JSONResponse({"error": error}, status_code=answer.status)
        server.log.append({**entry, "status": 200, "answer": answer.text})
        created, ident = int(time.time()), uuid.uuid4().hex[:12]
        if kind == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
            }
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": answer.text, "finish_reason": "stop"}
            obj = "text_completion"
        return JSONResponse({
            "id": f"cmpl-{ident}", "object": obj, "created": created, "model": model,
            "choices": [choice], "usage": _usage(prompt, answer.text),
        })  # fmt: skip

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        return await respond(request, "chat")

    @app.post("/v1/completions")
    async def completions(request: Request) -> JSONResponse:
        return await respond(request, "completion")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [{"id": m, "object": "model", "owned_by": "table"} for m in server.table.models]
        return {"object": "list", "data": data}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_control/requests")
    async def requests(model: str | None = None) -> list[dict[str, Any]]:
        return [e for e in server.log if model is None or e["model"] == model]

    @app.delete("/_control/requests")
    async def clear_requests() -> dict[str, int]:
        count = len(server.log)
        server.log.clear()
        return {"cleared": count}

    @app.put("/_control/table")
    async def replace_table(request: Request) -> dict[str, list[str]]:
        server.table = AnswerTable.from_json(await request.json())
        return {"models": list(server.table.models)}

    @app.get("/_control/rules")
    async def list_rules() -> list[dict[str, Any]]:
        return [asdict(rule) for rule in server.rules]

    @app.post("/_control/rules")
    async def add_rule(request: Request) -> dict[str, Any]:
        body = await request.json()
        rule = Rule(
            contains=str(body.get("contains", "")),
            model=body.get("model"),
            delay=float(body.get("delay", 0.0)),
            status=body.get("status"),
            times=body.get("times"),
        )
        server.rules.append(rule)
        return asdict(rule)

    @app.delete("/_control/rules")
    async def clear_rules() -> dict[str, int]:
        count = len(server.rules)
        server.rules.clear()
        return {"cleared": count}

    return app
