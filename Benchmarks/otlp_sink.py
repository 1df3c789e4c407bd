#!/usr/bin/env python3
"""An OTLP/HTTP receiver for benchmarks: accepts every export (`POST /v1/traces`, protobuf or
JSON), reads and discards it, answers an empty success, and counts what it got.

    python3 Benchmarks/otlp_sink.py PORT      # prints "requests bytes" on SIGTERM/SIGINT

Standard library only; threaded, so that a slow export never holds up another process's.
"""
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {"requests": 0, "bytes": 0}
lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with lock:
            counts["requests"] += 1
            counts["bytes"] += len(body)
        json = "json" in (self.headers.get("Content-Type") or "")
        answer = b"{}" if json else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if json else "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    print(f"{counts['requests']} {counts['bytes']}", flush=True)


if __name__ == "__main__":
    main()
