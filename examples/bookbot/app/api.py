#!/usr/bin/env python3
"""bookbot's API, a stand-in for the application phasegate restarts and smoke-tests (standard library + psql).

  GET  /health       200 {"release", "pid"} when the database answers, else 503
  POST /books        saves {"title", "lexile"} and answers 201 {"id", ...}; release 2 code also writes
                     reading_level (the column plan 0001 adds), so it fails until the expand phase ran
  GET  /books/ID     the saved row, or 404

The code's release is read once at start from $BOOKBOT_RELEASE_FILE (default app/RELEASE): a new release
runs only after a restart, which is the point of seed 004. Port: $BOOKBOT_PORT (default 8080).
"""
import http.server
import json
import os
import subprocess

PORT = int(os.environ.get("BOOKBOT_PORT", "8080"))
RELEASE_FILE = os.environ.get("BOOKBOT_RELEASE_FILE", "app/RELEASE")
RELEASE = open(RELEASE_FILE).read().strip() if os.path.exists(RELEASE_FILE) else "1"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
PSQL = os.environ.get("PSQL", "psql")


def sql(text, **params):
    """Runs one statement with psql; parameters are psql variables (:'name'), never spliced into the SQL."""
    args = [PSQL, DATABASE_URL, "-qAtX", "-v", "ON_ERROR_STOP=1"]
    for k, v in params.items():
        args += ["-v", f"{k}={v}"]
    done = subprocess.run(args, input=text, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return done.stdout.strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            try:
                sql("SELECT 1")
                return self.answer(200, {"release": RELEASE, "pid": os.getpid()})
            except Exception as e:  # the database is down or unreachable
                return self.answer(503, {"error": str(e)})
        if self.path.startswith("/books/") and self.path[7:].isdigit():
            row = sql("SELECT row_to_json(b) FROM books b WHERE id = :'id'", id=self.path[7:])
            return self.answer(200, json.loads(row)) if row else self.answer(404, {"error": "no such book"})
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/books":
            return self.answer(404, {"error": "not found"})
        try:
            book = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            title, lexile = str(book.get("title", "untitled")), int(book.get("lexile", 0))
            if RELEASE == "1":
                q = "INSERT INTO books (id, title, lexile) SELECT coalesce(max(id), 0) + 1, :'title', :'lexile' FROM books RETURNING id"
            else:  # release 2 writes the new column
                q = ("INSERT INTO books (id, title, lexile, reading_level) SELECT coalesce(max(id), 0) + 1, :'title',"
                     " :'lexile', :'lexile'::int / 150 FROM books RETURNING id")
            out = sql("BEGIN;\nLOCK TABLE books IN SHARE ROW EXCLUSIVE MODE;\n" + q + ";\nCOMMIT;", title=title, lexile=lexile)
            new_id = next(line for line in out.splitlines() if line.isdigit())
            self.answer(201, {"id": int(new_id), "release": RELEASE})
        except Exception as e:
            self.answer(500, {"error": str(e), "release": RELEASE})

    def log_message(self, fmt, *args):  # one line per request on stderr (the restart hook's log file)
        print(f"api[{os.getpid()}] release {RELEASE}: " + fmt % args, flush=True)


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
