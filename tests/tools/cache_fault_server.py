#!/usr/bin/env python3
"""A Bazel HTTP cache with faults, for the remote cache tests (stdlib only, 127.0.0.1, threaded).

    cache_fault_server.py --root DIR --port PORT [--mode MODE[,MODE...]] [--log FILE]

Serves GET/HEAD/PUT of any path from files under DIR (<base>/ac/<hex>, <base>/cas/<hex>: the
path is taken as is, below DIR). The modes, combinable with commas:

  normal      GET 200 / 404 (honours "Range: bytes=A-B"), HEAD 200 / 404, PUT 200
  error500    every request answers 500
  stall       every request is accepted and never answered (until MAX_SECONDS or the end)
  truncated   GET 200 announces a Content-Length 100 bytes over the body, sends the body, closes
  wrongbytes  GET 200 of an existing file sends other bytes
  wrongblobs  as wrongbytes, for files under a "cas" directory only (action entries are right)
  head405     HEAD answers 405 (GET and PUT work)
  put204      PUT answers 204 (Bazel's remote worker, nginx overwriting)
  zstd        a GET whose Accept-Encoding names zstd gets the body zstd-compressed (by the zstd
              program: the zstandard module is not in the stdlib), Content-Encoding: zstd
  badzstd     as zstd, but only the first half of the compressed body is sent (a frame cut
              short, with a Content-Length that matches what is sent)

With --log, one line per request is appended and flushed: "METHOD PATH RANGE ACCEPT-ENCODING"
(RANGE and ACCEPT-ENCODING are "-" when absent). The server runs until SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_SECONDS = 60  # no request is held (stall) for longer than this
MAX_PUT_BYTES = 1 << 30  # the largest upload taken (nginx's client_max_body_size 1G)
MODES = {"normal", "error500", "stall", "truncated", "wrongbytes", "wrongblobs", "head405", "put204",
         "zstd", "badzstd"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--log")
    args = ap.parse_args()
    modes = set(args.mode.split(","))
    if not modes <= MODES:
        ap.error(f"unknown mode(s) {sorted(modes - MODES)}; known: {sorted(MODES)}")
    root = Path(args.root).resolve()
    zstd = shutil.which("zstd")
    if modes & {"zstd", "badzstd"} and not zstd:
        print("cache_fault_server: the zstd program is not installed", file=sys.stderr)
        return 2
    log_lock = threading.Lock()
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet: the tests read --log
            pass

        def _record(self) -> None:
            if not args.log:
                return
            line = " ".join([self.command, self.path, self.headers.get("Range", "-"),
                             self.headers.get("Accept-Encoding", "-")])
            with log_lock, open(args.log, "a") as f:
                f.write(line.replace("\n", " ") + "\n")

        def _file(self) -> Path | None:
            rel = self.path.split("?")[0].lstrip("/")
            p = (root / rel).resolve()
            return p if p.is_relative_to(root) and p != root else None

        def _answer(self, status: int, body: bytes = b"", headers=(), length=None) -> None:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _common(self) -> bool:
            """The faults of every method; True when the request was dealt with."""
            self._record()
            if "stall" in modes:
                self.close_connection = True
                stopping.wait(MAX_SECONDS)
                return True
            if "error500" in modes:
                self.close_connection = True
                self._answer(500, b"injected failure\n")
                return True
            return False

        def do_HEAD(self):  # noqa: N802
            if self._common():
                return
            if "head405" in modes:
                return self._answer(405, headers=[("Allow", "GET, PUT")])
            p = self._file()
            if p is None or not p.is_file():
                return self._answer(404)
            self._answer(200, length=p.stat().st_size)

        def do_GET(self):  # noqa: N802
            if self._common():
                return
            p = self._file()
            if p is None or not p.is_file():
                return self._answer(404, b"not found\n")
            data = p.read_bytes()
            if "wrongbytes" in modes or ("wrongblobs" in modes and p.parent.name == "cas"):
                return self._answer(200, b"these are not the bytes you asked for\n")
            if "truncated" in modes:
                self.close_connection = True
                return self._answer(200, data, length=len(data) + 100)
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and "," not in rng and not rng[6:].startswith("-"):
                first, _, last = rng[6:].partition("-")
                start = int(first)
                end = min(len(data), int(last) + 1) if last else len(data)
                if start >= len(data):
                    return self._answer(416, headers=[("Content-Range", f"bytes */{len(data)}")])
                return self._answer(206, data[start:end], headers=[
                    ("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")])
            accept = self.headers.get("Accept-Encoding", "")
            wants_zstd = "zstd" in [a.split(";")[0].strip() for a in accept.split(",")]
            if modes & {"zstd", "badzstd"} and wants_zstd:
                packed = subprocess.run([zstd, "-q", "-c", "-3"], input=data,
                                        capture_output=True, check=True).stdout
                if "badzstd" in modes:
                    packed = packed[:len(packed) // 2]
                return self._answer(200, packed, headers=[("Content-Encoding", "zstd")])
            self._answer(200, data)

        def do_PUT(self):  # noqa: N802
            if self._common():
                return
            p = self._file()
            length = int(self.headers.get("Content-Length", "-1"))
            if p is None or length < 0 or length > MAX_PUT_BYTES:
                self.close_connection = True
                return self._answer(400, b"bad request\n")
            body = self.rfile.read(length)
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + f".tmp-{threading.get_ident()}")
            tmp.write_bytes(body)
            os.replace(tmp, p)
            self._answer(204 if "put204" in modes else 200)

    server = _Server(("127.0.0.1", args.port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
