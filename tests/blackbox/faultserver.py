"""A fault-injecting HTTP server for the black-box tests (stdlib only, 127.0.0.1, threaded).

    with FaultServer(wheel=path_to_a_real_wheel) as srv:
        srv.index_url("trickle")   # http://127.0.0.1:PORT/trickle/simple

Every mode serves a PEP 503 index under /<mode>/simple/<project>/ and files under
/<mode>/files/<name>; the fault is in the page or in the file:

  ok         a page linking the wheel (with its sha256), the wheel itself
  trickle    the page arrives one byte every `trickle_s` seconds
  stall      the page sends its headers and a few bytes, then nothing
  endless    the page links the wheel without a hash; the wheel's body never ends
  bomb       the page is a gzip bomb: small on the wire, `bomb_mib` MiB decompressed
  huge       the page lists `huge_versions` versions of the project (links that 404)
  filelinks  the page's links are file:// URLs (the wheel on local disk, /etc/shadow)
  badhash    the page's #sha256= does not match the wheel's bytes
  nohash     the page links the wheel without a hash
  jsonsize0  a PEP 691 JSON page declaring `"size": 0` for the wheel (no hash); the wheel's
             body is endless, as in `endless`
  jsondeep   a PEP 691 JSON page whose extra key nests `[` `page_mib` MiB deep
  tinylinks  an HTML page of `page_mib` MiB of `<a href=x>` (millions of tiny links)
  slowfile   an ordinary page; the wheel arrives in 4 KiB chunks, one every `trickle_s` seconds
  cutonce    an ordinary page; the first whole-file GET of the wheel (no Range header: reading
             METADATA with range requests comes first) sends `cut_bytes` bytes of it and
             closes the connection; later GETs are served in full, honouring Range/If-Range
  norange    as cutonce, but later GETs ignore Range and always answer 200 with the whole file
  widelinks  an HTML page of `wide_files` links filling `page_mib` MiB, each a compatible wheel
             of the project with a long URL: the most a page within the default limits holds

Wheels are served with an ETag ("<first 16 hex of the sha256>") and, but for norange, with
Accept-Ranges: bytes: a Range request whose If-Range matches gets a 206. `headers_log` holds
(path, {lowercase name: value}) of every request.

Every loop that sends or waits is bounded (and stops when the server stops), so a client
that never gives up cannot keep a test running; the server stops at the end of the `with`.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_SECONDS = 60  # no request is served for longer than this


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FaultServer:
    def __init__(self, wheel: Path, trickle_s: float = 0.5, bomb_mib: int = 512,
                 huge_versions: int = 100_000, endless_mib: int = 4096, page_mib: int = 31,
                 wide_files: int = 100_000, cut_bytes: int = 0):
        self.wheel = Path(wheel)
        self.wheel_bytes = self.wheel.read_bytes()
        self.wheel_sha = hashlib.sha256(self.wheel_bytes).hexdigest()
        self.project = self.wheel.name.split("-")[0].replace("_", "-").lower()
        self.trickle_s, self.bomb_mib = trickle_s, bomb_mib
        self.huge_versions, self.endless_mib = huge_versions, endless_mib
        self.page_mib, self.wide_files = page_mib, wide_files
        self.stopping = threading.Event()
        self.requests: list = []  # (method, path) in arrival order
        self.headers_log: list = []  # (path, {lowercase name: value}) in arrival order
        self.cut_bytes = cut_bytes or len(self.wheel_bytes) // 2
        self._cut_done: set = set()  # modes whose one cut connection was served
        self._lock = threading.Lock()
        self._bomb: bytes | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- URLs -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def index_url(self, mode: str) -> str:
        return self.url(f"/{mode}/simple")

    def hits(self, mode: str) -> list:
        with self._lock:
            return [p for _, p in self.requests if p.startswith(f"/{mode}/")]

    # --- content ------------------------------------------------------------------------
    def page(self, mode: str) -> bytes:
        name = self.wheel.name
        files = self.url(f"/{mode}/files/")
        if mode == "jsonsize0":
            return json.dumps({"meta": {"api-version": "1.0"}, "name": self.project,
                               "files": [{"filename": name, "url": files + name, "hashes": {},
                                          "size": 0}]}).encode()
        if mode == "jsondeep":
            head = '{"meta":{"api-version":"1.0"},"files":[],"x":'.encode()
            return head + b"[" * (self.page_mib << 20)
        if mode == "tinylinks":
            return b"<a href=x>" * ((self.page_mib << 20) // 10)
        if mode == "widelinks":  # long wheel names: the URL and the file name are both kept
            budget = (self.page_mib << 20) // self.wide_files - len('<a href="">\n')
            links = []
            for i in range(self.wide_files):
                fn = f"{self.project}-0.{i}-py3-none-any.whl"
                pad = "p" * max(1, budget - len(files) - len(fn) - 1)
                links.append(f'<a href="{files}{pad}/{fn}">\n')  # a long URL, as on real indexes
            return "".join(links).encode()
        if mode == "endless":
            links = [f'<a href="{files}{name}">{name}</a>']
        elif mode == "nohash":
            links = [f'<a href="{files}{name}">{name}</a>']
        elif mode == "badhash":
            links = [f'<a href="{files}{name}#sha256={"0" * 64}">{name}</a>']
        elif mode == "filelinks":
            links = [f'<a href="file://{self.wheel}#sha256={self.wheel_sha}">{name}</a>',
                     f'<a href="file:///etc/shadow#egg={self.project}">{self.project}-1.0-py3-none-any.whl</a>',
                     f'<a href="file:///etc/passwd">{self.project}-0.1-py3-none-any.whl</a>']
        elif mode == "huge":
            links = [f'<a href="{files}{self.project}-0.{i}-py3-none-any.whl">x</a>'
                     for i in range(self.huge_versions)]
        else:
            links = [f'<a href="{files}{name}#sha256={self.wheel_sha}">{name}</a>']
        return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()

    def bomb(self) -> bytes:
        with self._lock:
            if self._bomb is None:
                c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
                chunk = b"<" * (1 << 20)
                parts = [c.compress(chunk) for _ in range(self.bomb_mib)]
                self._bomb = b"".join(parts) + c.flush()
            return self._bomb

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> "FaultServer":
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                with outer._lock:
                    outer.requests.append(("GET", self.path))
                    outer.headers_log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    outer._serve(self)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self._server = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- serving ------------------------------------------------------------------------
    def _send(self, h, status: int, body: bytes, ctype="text/html", extra=()) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _serve(self, h) -> None:
        parts = h.path.split("?")[0].split("#")[0].strip("/").split("/")
        if len(parts) < 3:
            return self._send(h, 404, b"not found\n", "text/plain")
        mode, kind = parts[0], parts[1]
        deadline = time.monotonic() + MAX_SECONDS
        if kind == "simple":
            if parts[2] != self.project:
                return self._send(h, 404, b"no such project\n", "text/plain")
            body = self.page(mode)
            if mode == "trickle":
                h.send_response(200)
                h.send_header("Content-Type", "text/html")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                for b in body:
                    if self.stopping.is_set() or time.monotonic() > deadline:
                        return
                    h.wfile.write(bytes([b]))
                    h.wfile.flush()
                    self.stopping.wait(self.trickle_s)
                return
            if mode == "stall":
                h.send_response(200)
                h.send_header("Content-Type", "text/html")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body[:10])
                h.wfile.flush()
                self.stopping.wait(MAX_SECONDS)
                return
            if mode == "bomb":
                return self._send(h, 200, self.bomb(), extra=[("Content-Encoding", "gzip")])
            if mode in ("jsonsize0", "jsondeep"):
                return self._send(h, 200, body, "application/vnd.pypi.simple.v1+json")
            return self._send(h, 200, body)
        if kind == "files":
            if parts[2] != self.wheel.name:
                return self._send(h, 404, b"no such file\n", "text/plain")
            if mode in ("endless", "jsonsize0"):
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.end_headers()  # no length: the body ends when the connection does
                h.close_connection = True
                chunk = os.urandom(1 << 16)
                for _ in range(self.endless_mib * 16):
                    if self.stopping.is_set() or time.monotonic() > deadline:
                        return
                    h.wfile.write(chunk)
                return
            return self._serve_wheel(h, mode, deadline)
        return self._send(h, 404, b"not found\n", "text/plain")



    def ranges_requested(self, mode: str) -> list:
        """The Range headers of the wheel requests of `mode`, in order ("" for none)."""
        with self._lock:
            return [hd.get("range", "") for p, hd in self.headers_log
                    if p.startswith(f"/{mode}/files/")]

    def _serve_wheel(self, h, mode: str, deadline: float) -> None:
        data, etag = self.wheel_bytes, '"%s"' % self.wheel_sha[:16]
        with self._lock:
            cut = mode in ("cutonce", "norange") and mode not in self._cut_done \
                and "Range" not in h.headers
            if cut:
                self._cut_done.add(mode)
        start, status = 0, 200
        rng, if_range = h.headers.get("Range", ""), h.headers.get("If-Range")
        end = len(data)
        if mode != "norange" and not cut and rng.startswith("bytes=") and "," not in rng \
                and (if_range is None or if_range == etag):
            first, _, last = rng[len("bytes="):].partition("-")
            if not first:  # the last N bytes
                start = max(0, len(data) - int(last))
            else:
                start = int(first)
                end = min(len(data), int(last) + 1) if last else len(data)
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(end - start))
        h.send_header("ETag", etag)
        if mode != "norange":
            h.send_header("Accept-Ranges", "bytes")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        h.end_headers()
        body = data[start:end]
        if cut:
            h.wfile.write(body[:self.cut_bytes])
            h.wfile.flush()
            h.close_connection = True
            return
        if mode == "slowfile":
            for i in range(0, len(body), 4096):
                if self.stopping.is_set() or time.monotonic() > deadline:
                    h.close_connection = True
                    return
                h.wfile.write(body[i:i + 4096])
                h.wfile.flush()
                self.stopping.wait(self.trickle_s)
            return
        h.wfile.write(body)
