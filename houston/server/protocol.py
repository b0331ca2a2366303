"""uvicorn's h11 protocol with a deadline on reading each request's head and body.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`), and a byte of
a new request cancels even that: a client that sends its headers one byte every few
seconds, or declares a body it never sends, holds a connection (and, for a body, an
application task) for as long as it likes. Here each request has `head_timeout` seconds
from its first byte (or from the connection, for the first request) to finish its
headers, and `body_timeout` seconds from there to finish its body; a late client gets
`408 Request Timeout` and the connection is closed (a connection that sent nothing is
closed without an answer). Dribbling bytes never extends a deadline: it is set once per
phase of each request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0


def timeout_answer(what: str) -> bytes:
    """Pure: the whole 408 response, written raw (h11 will not answer a half request)."""
    body = f"the request {what} took too long to arrive\n".encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )


class BoundedH11Protocol(H11Protocol):
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        self._set_phase(None)  # a new request cycle: its head gets a deadline of its own
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Give the phase the client is in its deadline, once."""
        state = self.conn.their_state
        if state is h11.IDLE:
            self._set_phase("head")
        elif state is h11.SEND_BODY:
            self._set_phase("body")
        else:
            self._set_phase("done")

    def _set_phase(self, phase: str | None) -> None:
        if phase == self._phase:
            return  # already timed: more bytes of the same phase never extend it
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase in ("head", "body"):
            seconds = self.head_timeout if phase == "head" else self.body_timeout
            self._deadline = self.loop.call_later(seconds, self._too_late, phase)

    def _too_late(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if phase == "head":
            if self.conn.trailing_data[0]:  # a request began; an idle connection just closes
                self.transport.write(timeout_answer("headers"))
        elif cycle is not None and not cycle.response_started:
            self.transport.write(timeout_answer("body"))
        self.transport.close()


def bounded_protocol(head_timeout: float, body_timeout: float) -> type[BoundedH11Protocol]:
    """The protocol class to give uvicorn (`Config(http=...)`) with these deadlines."""
    attributes: dict[str, Any] = {"head_timeout": head_timeout, "body_timeout": body_timeout}
    return type("HoustonH11Protocol", (BoundedH11Protocol,), attributes)
