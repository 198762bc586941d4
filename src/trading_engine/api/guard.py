"""Guards in front of every route, as pure ASGI middleware (cheap: no request objects).

``WriteGuard``: a write (any method but GET, HEAD and OPTIONS) must not come from another
site. A browser says where a request comes from in ``Origin`` and ``Sec-Fetch-Site``; a page
on another site can still send a "simple" POST (``Content-Type: text/plain``, no preflight),
so those headers are checked here, whatever the route. Without an API token the ``Host``
header must also name this machine (loopback), else a page that rebinds its own DNS name to
127.0.0.1 would be same-origin with us. With a token, the token protects writes.

``BodyLimit``: a request body over ``server.max_body_bytes`` gets 413, decided from
``Content-Length`` before the app runs, or by counting a chunked body as it arrives; the app
never holds more than the limit plus one chunk.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import ServerSettings
from .errors import error_response, shorten

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})  # our own origin's host names
DEFAULT_PORTS = {"http": 80, "https": 443}
NOT_AN_AUTHORITY = set("@/\\?# ")


def split_authority(authority: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (a Host header) as (lower-case host without brackets, port), or None."""
    if not authority or NOT_AN_AUTHORITY & set(authority):
        return None
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port or default_port) if parts.hostname else None


def split_origin(origin: str) -> tuple[str, str, int] | None:
    """``scheme://host[:port]`` (an Origin header) as (scheme, host, port), or None."""
    scheme, _, authority = origin.lower().partition("://")
    if scheme not in DEFAULT_PORTS:
        return None
    host = split_authority(authority, DEFAULT_PORTS[scheme])
    return (scheme, *host) if host else None


class WriteGuard:
    """403 for a write from another site, or (without a token) addressed to a foreign Host."""

    def __init__(self, app: ASGIApp, *, settings: ServerSettings) -> None:
        self.app = app
        self.check_host = settings.api_token is None
        self.allowed_names: set[str] = set()
        self.allowed_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in settings.allowed_hosts:
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.allowed_names.add(entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refusal = self.refusal(scope)
            if refusal:
                await error_response(403, refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this write is refused, naming the header and its value; None to let it pass."""
        headers = Headers(scope=scope)
        hosts = headers.getlist("host")
        for site in headers.getlist("sec-fetch-site"):
            if site.strip().lower() == "cross-site":
                return (
                    "Sec-Fetch-Site 'cross-site': the browser says this write comes from "
                    "another site"
                )
        for origin in headers.getlist("origin"):
            if not self.own_origin(origin, hosts, scope):
                return (
                    f"Origin {shorten(origin)!r} is not this server's origin: writes are refused "
                    "from other sites (a client that sends no Origin, like curl, is fine)"
                )
        if self.check_host:
            for host in hosts:
                if not self.allowed_host(host):
                    return (
                        f"Host {shorten(host)!r} is not a loopback name or address: without an "
                        "API token, writes must be addressed to 127.0.0.1, localhost or [::1] "
                        "(setting server.allowed_hosts), so no web page can reach them by "
                        "rebinding its DNS name to this machine"
                    )
        return None

    def own_origin(self, origin: str, hosts: list[str], scope: Scope) -> bool:
        """A loopback name on the port we listen on, or exactly the host the request addressed."""
        parts = split_origin(origin)
        if parts is None:  # includes "null": sandboxed frames, file: pages, redirects
            return False
        scheme, name, port = parts
        server = scope.get("server")  # (address, port) of the socket this request came in on
        if name in LOOPBACK_NAMES and server is not None and port == server[1]:
            return True
        return any(split_authority(host, DEFAULT_PORTS[scheme]) == (name, port) for host in hosts)

    def allowed_host(self, host: str) -> bool:
        parts = split_authority(host, 0)
        if parts is None:
            return False
        name = parts[0]
        if name in self.allowed_names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return any(address in network for network in self.allowed_networks)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` so the app's HTTPException handler answers 413."""


class BodyLimit:
    """413 for a request body over ``max_bytes``, without reading more than that."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self, received: str) -> str:
        return (
            f"request body of {received} is over the limit of {self.max_bytes} bytes "
            "(setting server.max_body_bytes)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            message = self.message(f"{int(declared)} bytes")
            await error_response(413, message)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(413, self.message(f"more than {self.max_bytes} bytes"))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as error:  # read outside the app's exception handlers
            if started:
                raise
            await error_response(413, str(error.detail))(scope, receive, send)
