"""A local web server whose answers the tests control, on 127.0.0.1 and a free port.

Each path serves a :class:`Resource`: the headers are exactly those given (no Date, no
Last-Modified unless asked for), so each test chooses which validators the server sends.
Every request is logged, so a test can check what the probe asked for.
"""

import http.server
import threading

import attrs


@attrs.define
class Resource:
    body: bytes = b""
    #: Sent as given; a value None leaves out a header (Content-Length is sent by default).
    headers: dict[str, str | None] = attrs.Factory(dict)
    status: int = 200
    #: The status of a HEAD request, when it differs (405 for a server that refuses HEAD).
    head_status: int | None = None
    #: Headers sent only with a GET (some servers send an ETag only with the body).
    get_headers: dict[str, str] = attrs.Factory(dict)
    #: Seconds before the answer (interrupted when the server stops).
    delay: float = 0.0
    #: Seconds between chunks of 1000 bytes of the body.
    drip: float = 0.0
    #: Close the connection without an answer.
    hang_up: bool = False


@attrs.define
class Site:
    """What the server serves, by path, and the requests it received."""

    port: int
    resources: dict[str, Resource] = attrs.Factory(dict)
    #: (method, path, User-Agent) of each request, in order.
    requests: list[tuple[str, str, str]] = attrs.Factory(list)
    stopping: threading.Event = attrs.Factory(threading.Event)

    def url(self, path: str = "/data") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def make_handler(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests check ``site.requests`` instead."""

        def do_HEAD(self) -> None:
            self.answer(send_body=False)

        def do_GET(self) -> None:
            self.answer(send_body=True)

        def answer(self, send_body: bool) -> None:
            site.requests.append((self.command, self.path, self.headers.get("User-Agent", "")))
            resource = site.resources.get(self.path, Resource(b"Not here\n", status=404))
            if site.stopping.wait(resource.delay) or resource.hang_up:
                self.close_connection = True
                return
            if not send_body and resource.head_status is not None:
                self.send_response(resource.head_status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(resource.status)
            headers = {"Content-Length": str(len(resource.body)), **resource.headers}
            if send_body:
                headers.update(resource.get_headers)
            if headers["Content-Length"] is None:
                # Without a length, the end of the body is the end of the connection.
                headers["Connection"] = "close"
                self.close_connection = True
            for name, value in headers.items():
                if value is not None:
                    self.send_header(name, value)
            self.end_headers()
            if not send_body:
                return
            for start in range(0, len(resource.body), 1000):
                if start and site.stopping.wait(resource.drip):
                    return
                try:
                    self.wfile.write(resource.body[start : start + 1000])
                    self.wfile.flush()
                except OSError:  # The client gave up.
                    return

    return Handler


class Server:
    """A ThreadingHTTPServer in a thread, that can be stopped (and restarted) at any time."""

    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: None)
        self.site = Site(self.httpd.server_address[1])
        self.httpd.RequestHandlerClass = make_handler(self.site)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        """Refuse connections from now on: the port is closed."""
        if self.running:
            self.running = False
            self.site.stopping.set()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)
