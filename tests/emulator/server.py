"""The HTTPS front: TLS termination, host-based routing, fault injection and the request log."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .faults import Faults
from .wire import Request, Response

Router = Callable[[Request], tuple[str, Response]]


@dataclass(frozen=True)
class LogEntry:
    """One request as the emulator saw it. Never holds bodies, tokens or key material."""

    at: float
    service: str  # "kv", "entra", "oidc", "?"
    method: str
    host: str
    path: str
    query: dict[str, str]
    authorized: bool  # carried an Authorization header
    status: int  # 0 when the connection was reset on purpose
    fault: str = ""
    note: dict[str, str] = field(default_factory=dict)

    @property
    def operation(self) -> str:
        """``get``, ``encrypt``, ``decrypt``, ``wrapkey``, ``unwrapkey`` for Key Vault; the path otherwise."""
        if self.service != "kv":
            return self.path
        last = self.path.rstrip("/").rsplit("/", 1)[-1]
        return last if self.method == "POST" else "get"


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, service: str | None = None) -> list[LogEntry]:
        with self._lock:
            return [e for e in self._entries if service is None or e.service == service]

    def kv(self) -> list[LogEntry]:
        return self.entries("kv")

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def mark(self) -> int:
        """Position to pass to ``since`` (requests made after this point)."""
        with self._lock:
            return len(self._entries)

    def since(self, mark: int, service: str | None = None) -> list[LogEntry]:
        with self._lock:
            return [e for e in self._entries[mark:] if service is None or e.service == service]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # headers and body leave in one segment (no Nagle / delayed-ACK stall per response)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def address_string(self) -> str:
        return "emulator-client"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        host = (
            (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            if "]" not in (self.headers.get("Host") or "")
            else ""
        )
        req = Request(
            self.command,
            host,
            split.path,
            dict(parse_qsl(split.query)),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        front = self.server.front
        if front.faults.latency:
            time.sleep(front.faults.latency)
        service = front.service_of(host, req.path)
        fault = front.faults.pick(service, req.path)
        entry: dict[str, Any] = {
            "at": time.time(),
            "service": service,
            "method": req.method,
            "host": host,
            "path": req.path,
            "query": req.query,
            "authorized": "authorization" in req.headers,
        }
        if fault is not None and fault.kind == "reset":
            front.log.add(LogEntry(status=0, fault="reset", **entry))
            self._reset()
            return
        if fault is not None:
            resp = Response(
                fault.status,
                {
                    "error": {
                        "code": "Throttled" if fault.status == 429 else "InternalError",
                        "message": "injected fault",
                    }
                },
            )
            if fault.retry_after is not None:
                resp.headers["Retry-After"] = f"{fault.retry_after:g}"
        else:
            service, resp = front.route(req)
        front.log.add(
            LogEntry(status=resp.status, fault=f"status {fault.status}" if fault else "", note=resp.note, **entry)
        )
        self._send(resp)

    def _send(self, resp: Response) -> None:
        payload = resp.payload()
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        raw = self.connection
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            raw.close()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class Front:
    """What the listening servers share: the router, the fault plan and the log."""

    def __init__(self, route: Router, service_of: Callable[[str, str], str], faults: Faults, log: RequestLog) -> None:
        self.route, self.service_of, self.faults, self.log = route, service_of, faults, log


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    front: Front
    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
                _Handler(conn, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                conn.close()  # an unclosed SSLSocket would warn from this thread at GC time


class _UnixServer(_Server):
    address_family = socket.AF_UNIX
    allow_reuse_address = False

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)


def serve(front: Front, tls: ssl.SSLContext, address: Any) -> tuple[socketserver.TCPServer, threading.Thread]:
    """Listen on a (host, port) tuple or a Unix socket path; serve in a daemon thread."""
    cls = _UnixServer if isinstance(address, str) else _Server
    server = cls(address, _Handler, bind_and_activate=True)
    server.front, server.tls = front, tls
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server, thread
