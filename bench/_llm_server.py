"""A loopback OpenAI-compatible chat server that answers every call after a fixed delay.

    python bench/_llm_server.py PORT DELAY

Starlette on uvicorn (one process, asyncio), listening with a backlog of 4096 so that
hundreds of clients connecting at once are queued, not reset. It answers
`POST /v1/chat/completions` with one short message and its `usage`, after DELAY seconds.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DELAY = 1.0


async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    await asyncio.sleep(DELAY)
    return JSONResponse(
        {
            "id": "bench",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "ok"},
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
        }
    )


app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def main() -> None:
    global DELAY
    port, DELAY = int(sys.argv[1]), float(sys.argv[2])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=4096,
        access_log=False,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
