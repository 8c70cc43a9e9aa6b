"""A real local HTTP server speaking the subset of the Hugging Face hub file API that downloads use.

HEAD/GET /{repo_id}/resolve/{revision}/{filename} with X-Repo-Commit, ETag /
X-Linked-Etag (sha256 of LFS files), X-Linked-Size, Content-Length and Range.
Faults for tests: drop the connection after N bytes of a file's first GET,
serve corrupt bytes under the true ETag, or serve a truncated body
(a complete response of fewer bytes than the file's X-Linked-Size).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFiles:
    files: dict[str, bytes] = field(default_factory=dict)  # "owner/repo/filename" -> bytes
    drop_after: dict[str, int] = field(default_factory=dict)  # first GET of a file stops after N bytes
    corrupt: set[str] = field(default_factory=set)
    truncated: dict[str, int] = field(default_factory=dict)  # GETs of a file serve only its first N bytes
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range)


class HubHandler(BaseHTTPRequestHandler):
    hub: HubFiles
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _lookup(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None, None
        key = "/".join(parts[:2] + parts[4:])
        return key, self.hub.files.get(key)

    def _headers(self, key: str, data: bytes, status: int, length: int, start: int = 0) -> None:
        self.send_response(status)
        self.send_header("X-Repo-Commit", COMMIT)
        etag = hashlib.sha256(data).hexdigest()
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()

    def do_HEAD(self) -> None:
        key, data = self._lookup()
        self.hub.requests.append(("HEAD", self.path, self.headers.get("Range", "")))
        if data is None:
            self.send_error(404)
            return
        self._headers(key, data, 200, len(data))

    def do_GET(self) -> None:
        key, data = self._lookup()
        range_header = self.headers.get("Range", "")
        self.hub.requests.append(("GET", self.path, range_header))
        if data is None:
            self.send_error(404)
            return
        start = int(range_header.split("=")[1].split("-")[0]) if range_header.startswith("bytes=") else 0
        body = data[start:]
        if key in self.hub.corrupt:
            body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
        if key in self.hub.truncated:
            # A well-formed response whose body is short: the server, not the network, lost the tail.
            body = data[: self.hub.truncated[key]][start:]
        self._headers(key, data, 206 if start else 200, len(body), start)
        limit = self.hub.drop_after.pop(key, None)
        if limit is not None:
            self.wfile.write(body[:limit])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """Clients hanging up mid-response is what the fault tests do on purpose."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(hub: HubFiles) -> tuple[ThreadingHTTPServer, str]:
    handler = type("BoundHubHandler", (HubHandler,), {"hub": hub})
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
