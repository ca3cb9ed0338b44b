#!/usr/bin/env python3
"""A real HTTP webhook receiver for the e2e tests (notifications).

receiver.py PORTFILE LOGFILE MODEFILE
Listens on a free port on 127.0.0.1 (written to PORTFILE once listening). Every POST is appended to LOGFILE as
one JSON line: {"t": epoch seconds, "path", "headers": {...}, "body": "..."}. How it answers is read from
MODEFILE at each request, so a test can change it while the receiver runs:
  ok            200
  500           500 every time
  fail:N        500 for the first N requests, then 200
  slow:S        sleeps S seconds, then 200 (a receiver slower than the sender's timeout)
  404           404 every time
"""
import json, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, logfile, modefile = sys.argv[1:4]
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8", "replace")
        with lock:
            count[0] += 1
            n = count[0]
            with open(logfile, "a") as f:
                f.write(json.dumps({"t": time.time(), "n": n, "path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        try:
            mode = open(modefile).read().strip()
        except OSError:
            mode = "ok"
        status = 200
        if mode == "500":
            status = 500
        elif mode == "404":
            status = 404
        elif mode.startswith("fail:"):
            status = 500 if n <= int(mode[5:]) else 200
        elif mode.startswith("slow:"):
            time.sleep(float(mode[5:]))
        reply = b"ok" if status == 200 else b"receiver says no"
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            pass  # the sender gave up waiting


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
