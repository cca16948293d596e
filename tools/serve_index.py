#!/usr/bin/python3
"""Serve a directory with a real nginx on 127.0.0.1 (config, pid and logs in a temp dir).

  serve_index.py ROOT [--port N]      serve until Ctrl-C

Importable: `with Nginx(root) as n: n.url("/basic/simple")`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

NGINX = os.environ.get("LAVABUILD_NGINX", "/usr/sbin/nginx")

CONF = """\
daemon off;
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ text/html html; text/plain txt metadata; application/zip whl; application/gzip gz; }}
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
        index index.html;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound then released; good enough for tests)."""
    return free_port()


class Nginx:
    def __init__(self, root: str, port: int | None = None):
        self.root = os.path.abspath(root)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="lb-nginx-")
        self.proc: subprocess.Popen | None = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def access_log(self) -> str:
        return os.path.join(self.dir, "access.log")

    def start(self) -> "Nginx":
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(d=self.dir, root=self.root, port=self.port, user=user))
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()} {self._log()}")
            try:
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                opener.open(self.url("/"), timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not come up on port {self.port}: {self._log()}")

    def _log(self) -> str:
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root")
    ap.add_argument("--port", type=int)
    a = ap.parse_args()
    with Nginx(a.root, a.port) as n:
        print(f"serving {n.root} at {n.url('/')} (Ctrl-C to stop)", flush=True)
        try:
            n.proc.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
