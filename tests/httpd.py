#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A test HTTP server for sstream: serves a directory on 127.0.0.1.

usage: httpd.py ROOT PORTFILE [--tls CERT KEY]

Writes the port it listens on to PORTFILE.  Honours Range (206).  Faults are
asked for in the URL: /_fault/MODE/rest/of/path serves rest/of/path with
MODE applied:
  404, 500         that status
  500x2            500 for the first 2 requests of this URL, then normal
  truncate         announces the full length, sends half, closes
  stall            sends half, then stops sending for 30 s
  norange          ignores Range (always 200 and the whole body)
  reset            closes the connection without answering
  slow             sends the body in small chunks with pauses
  trickle          sends 8 bytes a second (a stalled server that never quite stops)
  drip             sends 2 KiB a second (slow but not stalled)
  corrupt          flips the body's first byte (a wrong hash, right size)
  longer           appends bytes to the body (a wrong size)
  tofile           redirects to file:///etc/passwd (must be refused)
  novalid          sends no ETag or Last-Modified and ignores conditional requests
  always304        answers 304 Not Modified whether asked conditionally or not
  endless          a 200 with no Content-Length and a body that never ends
                   (zeros, fast, for at most 60 s): an item without a size
Faults can also be set without changing URLs: each line "MODE SUBSTRING" of
the file ROOT/../faults applies MODE to every path containing SUBSTRING
(read at each request, so a test can change it between runs).
Every request is logged to ROOT/../httpd.log as
"METHOD PATH RANGE STATUS CONDITIONAL" (CONDITIONAL: "cond" when the request
had If-None-Match or If-Modified-Since, else "-").  Files carry an ETag
and Last-Modified; a matching If-None-Match (or, without it, an
If-Modified-Since not older than the file) gets 304.
"""
import email.utils
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(sys.argv[1])
PORTFILE = sys.argv[2]
LOG = os.path.join(os.path.dirname(ROOT), "httpd.log")
COUNTS = {}
LOCK = threading.Lock()


def rule_for(path):
    try:
        with open(os.path.join(os.path.dirname(ROOT), "faults")) as f:
            for line in f:
                parts = line.split(None, 1)
                if len(parts) == 2 and parts[1].strip() in urllib.parse.unquote(path):
                    return parts[0]
    except FileNotFoundError:
        pass
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle's
        # algorithm holds the body for the client's delayed ACK (40 ms a
        # request on one keep-alive connection)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def send_response(self, code, message=None):
        self.status = code
        super().send_response(code, message)

    def serve(self, head):
        self.status = "-"
        try:
            self.serve_logged(head)
        finally:
            cond = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
            with open(LOG, "a") as log:
                log.write("%s %s %s %s %s\n" % (self.command, urllib.parse.urlsplit(self.path).path,
                                                self.headers.get("Range", "-"), self.status,
                                                "cond" if cond else "-"))

    def validators(self, path, mode):
        """ETag/Last-Modified headers, or True when the request's
        validators match and a 304 was sent."""
        if mode == "novalid":
            return False
        st = os.stat(path)
        etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = mode == "always304"
        if inm is not None:
            fresh = fresh or etag in [t.strip() for t in inm.split(",")]
        elif ims is not None:
            try:
                fresh = fresh or int(st.st_mtime) <= email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                pass
        if fresh:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return True
        self.etag = etag
        return False

    def send_validators(self, path, mode):
        if mode != "novalid":
            self.send_header("ETag", self.etag)
            self.send_header("Last-Modified", self.date_time_string(os.path.getmtime(path)))

    def serve_logged(self, head):
        raw = urllib.parse.urlsplit(self.path).path
        mode = ""
        if raw.startswith("/_fault/"):
            _, _, mode, rest = raw.split("/", 3)
            raw = "/" + rest
        if not mode:
            mode = rule_for(raw)
        if mode.startswith("500x"):
            with LOCK:
                n = COUNTS.get(self.path, 0)
                COUNTS[self.path] = n + 1
            mode = "500" if n < int(mode[4:]) else ""
        if mode in ("404", "500"):
            return self.fail(int(mode))
        if mode == "tofile":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.close_connection = True
            return
        path = os.path.normpath(os.path.join(ROOT, urllib.parse.unquote(raw).lstrip("/")))
        if not path.startswith(ROOT) or not os.path.isfile(path):
            return self.fail(404)
        if self.validators(path, mode):
            return
        if mode == "endless":
            return self.send_endless(head)
        if not mode:
            return self.send_plain(path, head)
        with open(path, "rb") as f:
            data = f.read()
        start, end, status = 0, len(data), 200
        rng = self.headers.get("Range")
        if rng and mode != "norange" and rng.startswith("bytes=") and "," not in rng:
            a, _, b = rng[6:].partition("-")
            if a:
                start = int(a)
                end = min(int(b) + 1, len(data)) if b else len(data)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:end]
        if mode == "corrupt" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if mode == "longer":
            body += b"tail"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_validators(path, mode)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, len(data)))
        if mode in ("truncate", "stall"):
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        if mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(30)
            self.close_connection = True
            return
        if mode in ("trickle", "drip"):
            step = 8 if mode == "trickle" else 2048
            try:
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "slow":
            for i in range(0, len(body), 4096):
                self.wfile.write(body[i:i + 4096])
                self.wfile.flush()
                time.sleep(0.01)
            return
        self.wfile.write(body)

    def send_endless(self, head):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if head:
            return
        chunk = b"\0" * 65536
        until = time.monotonic() + 60
        try:
            while time.monotonic() < until:
                self.wfile.write(chunk)
        except OSError:
            pass

    def send_plain(self, path, head):
        """No fault: stream the file with sendfile(), so that large files
        (benchmarks) cost neither memory nor Python time."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start, end, status = 0, size, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and "," not in rng:
                a, _, b = rng[6:].partition("-")
                if a:
                    start = int(a)
                    end = min(int(b) + 1, size) if b else size
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_validators(path, "")
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
            self.end_headers()
            if not head and end > start:
                self.wfile.flush()
                self.connection.sendfile(f, start, end - start)

    def fail(self, code):
        msg = b"error\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(msg)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (stall and reset tests) are expected


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 3 and sys.argv[3] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
