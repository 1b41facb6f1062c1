"""Conditional GETs (RFC 9110 §13): every representation a GET returns carries an `ETag`, and a
request whose `If-None-Match` names it is answered `304 Not Modified` without a body.

One helper for every route, present and future: a route that knows its version sets the ETag
itself (a contract: `"<version>"`; a time-travel read: a weak tag naming the query); for every
other 200 the tag is a strong one computed from the bytes sent, so it changes exactly when the
representation does. A 304 repeats the ETag and drops the body and its content headers.
Streams (`text/event-stream`) and non-200 answers pass through untouched.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Headers that describe a body; a 304 has none (RFC 9110 §15.4.5).
_BODY_HEADERS = ("content-length", "content-type", "content-encoding", "transfer-encoding")


def body_etag(body: bytes) -> str:
    """A strong entity tag for exactly these bytes."""
    digest = hashlib.sha256(body).digest()[:18]
    return '"' + base64.urlsafe_b64encode(digest).decode("ascii") + '"'


def _opaque(tag: str) -> str:
    """The tag without its weakness indicator: If-None-Match compares weakly (RFC 9110 §13.1.2)."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (or is `*`)."""
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(candidate) == wanted for candidate in if_none_match.split(","))


class ConditionalGetMiddleware:
    """Adds a body ETag where a GET's 200 has none, and turns a matching `If-None-Match` into a
    304 with no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def buffered_send(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                streaming = headers.get("content-type", "").startswith("text/event-stream")
                if message["status"] != 200 or streaming:
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _finish(start, b"".join(chunks), if_none_match, send)

        await self.app(scope, receive, buffered_send)


async def _finish(start: Message, body: bytes, if_none_match: str | None, send: Send) -> None:
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    etag = headers.get("etag")
    if etag is None:
        etag = body_etag(body)
        headers["etag"] = etag
    if if_none_match is not None and none_match(if_none_match, etag):
        for name in _BODY_HEADERS:
            del headers[name]
        await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
