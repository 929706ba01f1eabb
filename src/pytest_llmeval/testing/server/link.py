"""One client connection of the fake server, on ``h11``: answering on it (whole, chunked, or dropped
mid-body), OpenAI's error body, and relaying a tunnel.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import h11

_ERROR_TYPES = {429: "rate_limit_exceeded", 401: "invalid_request_error", 400: "invalid_request_error"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The body of an OpenAI-style error answer: ``{"error": {"message", "type", "code"}}``."""
    return {"error": {"message": message, "type": _ERROR_TYPES.get(status, "server_error"), "code": status}}


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` to ``writer`` until either side closes, then close ``writer``."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def reason_phrase(status: int) -> str:
    """HTTP's reason phrase for ``status`` ("Service Unavailable"), or "" for a status it does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class Link:
    """One client connection: h11's state for it, its streams, and how to answer on it."""

    def __init__(self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.reader = reader
        self.writer = writer
        #: Whether a request was read on it already (then it idles between requests).
        self.served = False
        #: Whether the current request accepts a gzip answer the server is set to give.
        self.gzip = False

    def _head(self, status: int, headers: list[tuple[str, str]], close: bool) -> bytes:
        headers = [("Content-Type", "application/json"), *headers]
        if close:
            headers.append(("Connection", "close"))
        return self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason_phrase(status))) or b""

    async def reply(self, status: int, payload: dict[str, Any] | bytes, extra: Mapping[str, str] | None = None,
                    close: bool = False) -> bool:
        """Write one response; returns whether the connection stays open."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = list((extra or {}).items())
        if self.gzip and body:
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        out = self._head(status, headers, close)
        if body:
            out += self.conn.send(h11.Data(data=body)) or b""
        self.writer.write(out + (self.conn.send(h11.EndOfMessage()) or b""))
        await self.writer.drain()
        return not close

    async def reply_chunked(self, body: bytes, close: bool) -> bool:
        """A 200 framed ``Transfer-Encoding: chunked`` in 64-byte chunks (so a client must reassemble them), with a trailer."""
        out = [self._head(200, [("Transfer-Encoding", "chunked")], close)]
        for start in range(0, len(body), 64):
            out.append(self.conn.send(h11.Data(data=body[start:start + 64])) or b"")
        out.append(self.conn.send(h11.EndOfMessage(headers=[("X-Trailer", "yes")])) or b"")
        self.writer.write(b"".join(out))
        await self.writer.drain()
        return not close

    async def drop_mid_body(self, body: bytes) -> None:
        """Announce ``body`` whole, send half of it, and drop the connection."""
        head = self._head(200, [("Content-Length", str(len(body)))], close=False)
        self.writer.write(head + (self.conn.send(h11.Data(data=body[: len(body) // 2])) or b""))
        await self.writer.drain()
        self.writer.transport.abort()
