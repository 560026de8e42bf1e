"""Chroma for the ops tests: a tenant and database made through chromadb's AdminClient, each
collection's count in one, and a gate in front of a server that lets through only requests
carrying a key, as Chroma Cloud does (the open-source server checks no key, so without the gate a
client that forgot the key would pass)."""

from __future__ import annotations

import http.server
import threading
import uuid

import httpx


def make_tenant(url: str) -> tuple[str, str]:
    """A new tenant with one database on the server, made as an operator would, with AdminClient."""
    import chromadb
    from chromadb.config import Settings

    tenant, database = f"school-{uuid.uuid4().hex[:8]}", f"courses-{uuid.uuid4().hex[:8]}"
    parts = httpx.URL(url)
    admin = chromadb.AdminClient(Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                          chroma_server_host=parts.host, chroma_server_http_port=parts.port,
                                          anonymized_telemetry=False))
    admin.create_tenant(tenant)
    admin.create_database(database, tenant=tenant)
    return tenant, database


def collections(url: str, tenant: str | None = None, database: str | None = None) -> dict[str, int]:
    """Each collection's vector count in a tenant's database (the server's default one if not given)."""
    import chromadb
    from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings

    parts = httpx.URL(url)
    client = chromadb.HttpClient(host=parts.host, port=parts.port, tenant=tenant or DEFAULT_TENANT,
                                 database=database or DEFAULT_DATABASE,
                                 settings=Settings(anonymized_telemetry=False))
    return {c.name: client.get_collection(c.name).count() for c in client.list_collections()}


class KeyGate:
    """An HTTP proxy to `upstream` that answers 401 to any request without `X-Chroma-Token: key`,
    and counts what it passed and refused."""

    def __init__(self, upstream: str, key: str) -> None:
        self.upstream, self.key = upstream, key
        self.passed = self.refused = 0
        gate = self
        client = httpx.Client(base_url=upstream, timeout=60)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Chroma-Token") != gate.key:
                    gate.refused += 1
                    self._send(401, b'{"error":"AuthError","message":"Unauthorized"}', "application/json")
                    return
                gate.passed += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = client.request(self.command, self.path, content=body, headers=headers)
                self._send(resp.status_code, resp.content, resp.headers.get("content-type", "application/json"))

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _relay

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
