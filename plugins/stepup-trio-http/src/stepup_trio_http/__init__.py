"""Web resources as sources of a stepup-trio workflow: a step reruns when what it downloads changed.

The node kind ``url`` (entry-point group ``stepup_trio.node_kinds``) is a
:class:`~stepup_trio.plugin_api.SourceNode`. A plan names it in ``needs``::

    from stepup_trio.api import step
    from stepup_trio_http import url

    step(
        "curl -sSfo data.csv https://example.org/data.csv",
        out="data.csv",
        needs=url("https://example.org/data.csv"),  # or: needs="url:https://example.org/..."
    )

Before the step is skipped, and when it runs, stepup-trio calls :meth:`UrlNode.probe`, which
asks the server for the validators of the resource (see :func:`stamp_of`). When they differ
from those of the last successful run, the step runs again. The plugin uses only
:mod:`stepup_trio.plugin_api` and the standard library.
"""

import functools
import hashlib
import http.client
import importlib.metadata
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import IO, ClassVar

import attrs
from stepup_trio.plugin_api import ProbeError, SourceNode

__all__ = ["UrlNode", "check_url", "shown_stamp", "stamp_of", "url", "user_agent"]

#: A valid key, shown in every message about an invalid one.
EXAMPLE = "url:https://example.org/data.csv"

#: Bytes read at a time when a body is hashed.
CHUNK_SIZE = 1 << 16


# --8<-- [start:check]
def check_url(address: str) -> None:
    """Raise ``ValueError`` unless ``address`` is an http(s) URL that can be requested as it is.

    Called when a step is defined, so that a typo stops the plan with a message that says what
    is wrong, instead of making every probe fail. The URL is the node's key, so it is not
    normalized either: two spellings would be two nodes.
    """
    problem = _url_problem(address)
    if problem is not None:
        raise ValueError(f"{problem}. A valid key looks like {EXAMPLE}")


def _url_problem(address: str) -> str | None:
    if not address.startswith(("http://", "https://")):
        return f"{address!r} is not an http(s) URL: it must start with http:// or https://"
    for char in address:
        if ord(char) <= 0x20 or ord(char) >= 0x7F:
            return (
                f"{address!r} contains {char!r}: percent-encode spaces, control characters and "
                "non-ASCII characters (and write an international domain name as xn--...)"
            )
    try:
        parts = urllib.parse.urlsplit(address)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number < 65536)
    except ValueError as exc:
        return f"{address!r} is not a valid URL ({exc})"
    if not parts.hostname:
        return f"{address!r} has no host name"
    if "@" in parts.netloc:
        return (
            f"{address!r} contains credentials (user@host), which would be stored in graph.txt "
            "and the workflow dump: leave them out"
        )
    if "#" in address:
        return f"{address!r} has a fragment (#...), which is never sent to the server: leave it out"
    return None


# --8<-- [end:check]


@functools.cache
def user_agent() -> str:
    """The User-Agent of every probe: a server's log then says who is asking, and why."""
    try:
        version = importlib.metadata.version("stepup-trio-http")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"stepup-trio-http/{version} (change detection for a stepup-trio workflow)"


# --8<-- [start:stamp]
def stamp_of(headers: Message) -> bytes | None:
    """The stamp made of the validators in a response's headers, or None if it has none.

    - ``ETag: <value>`` when the server sends an ETag, strong or weak (``W/"..."``), exactly
      as sent: the server promises a new one whenever the content changes;
    - else ``Last-Modified: <value>; Content-Length: <value>`` when it sends Last-Modified,
      with the length empty if there is none: the length also catches a change within the
      second that Last-Modified resolves.

    Header values are the bytes the server sent (http.client decodes them as Latin-1).
    """
    etag = headers.get("ETag", "").strip()
    if etag:
        return b"ETag: " + _raw(etag)
    modified = headers.get("Last-Modified", "").strip()
    if modified:
        length = headers.get("Content-Length", "").strip()
        return b"Last-Modified: " + _raw(modified) + b"; Content-Length: " + _raw(length)
    return None


def _raw(value: str) -> bytes:
    return value.encode("latin-1", "backslashreplace")


# --8<-- [end:stamp]


def shown_stamp(stamp: bytes) -> str:
    """The stamp as printable ASCII: other bytes (from a hostile server) and the backslash
    become ``\\xNN``, so that the text reads back unambiguously."""
    return "".join(
        chr(byte) if 0x20 <= byte < 0x7F and byte != 0x5C else f"\\x{byte:02x}" for byte in stamp
    )


class _RedirectKeepingHead(urllib.request.HTTPRedirectHandler):
    """Follows redirects of a HEAD request with HEAD: before Python 3.13, urllib follows
    them with a GET, which would start downloading the resource."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.get_method() == "HEAD":
            new.method = "HEAD"
        return new


def _opener() -> urllib.request.OpenerDirector:
    """An opener for http and https only (with the proxies of the environment): a redirect to
    ``file:`` or ``ftp:`` is an error, not a way to read something else."""
    opener = urllib.request.OpenerDirector()
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _RedirectKeepingHead(),
        urllib.request.HTTPErrorProcessor(),
    ]
    if hasattr(urllib.request, "HTTPSHandler"):  # Python built without ssl
        handlers.append(urllib.request.HTTPSHandler())
    for handler in handlers:
        opener.add_handler(handler)
    return opener


# --8<-- [start:node]
@attrs.define(eq=False, repr=False)
class UrlNode(SourceNode):
    """A web resource that steps download: ``url:https://example.org/data.csv``.

    The stamp is made by :meth:`probe`; the graph shows the URL and the stamp.
    """

    kind: ClassVar[str] = "url"

    #: Seconds a whole probe may take (a HEAD request, and a GET if needed): a request waits at
    #: most what is left when it starts, and a body is read only until the time is up. Well
    #: below ``probe_timeout``, so that a slow server gets the plugin's message.
    timeout: ClassVar[float] = 10.0
    #: The director's limit, a backstop for a server that sends its headers byte by byte.
    probe_timeout: ClassVar[float] = 30.0
    #: The most that is read to hash a body without validators.
    max_body: ClassVar[int] = 256 << 20

    url: str

    @property
    def local_key(self) -> str:
        return self.url

    @classmethod
    def from_local_key(cls, local_key: str) -> "UrlNode":
        check_url(local_key)
        return cls(local_key)

    def properties(self) -> Iterator[tuple[str, str]]:
        yield "url", self.url
        yield "stamp", "(not probed)" if self.stamp is None else shown_stamp(self.stamp)

    def dot_label(self) -> str:
        """Host and path, shortened in the middle: the scheme and the query add little."""
        parts = urllib.parse.urlsplit(self.url)
        label = parts.netloc + (parts.path or "/")
        if len(label) > 40:
            label = f"{parts.netloc}/…/{parts.path.rstrip('/').rpartition('/')[2][-30:]}"
        return label + ("?…" if parts.query else "")

    # --8<-- [end:node]

    # --8<-- [start:probe]
    def probe(self) -> bytes:
        """The stamp of the resource as a download would see it now, after redirects.

        A HEAD request gives the validators (:func:`stamp_of`). A server that refuses HEAD
        (405, 501) is asked with GET. Without validators, the stamp is
        ``BLAKE2b-256: <hex digest of the body>``, from a GET that reads at most
        :attr:`max_body` bytes, a chunk at a time. Any failure raises :class:`ProbeError`.
        """
        deadline = time.monotonic() + self.timeout
        try:
            stamp = self._request("HEAD", deadline)
            if stamp is None:
                stamp = self._request("GET", deadline)
        except urllib.error.HTTPError as exc:
            exc.close()
            where = "" if exc.url == self.url else f" from {exc.url}"
            raise ProbeError(f"HTTP error {exc.code} {exc.reason}{where}") from None
        except urllib.error.URLError as exc:
            raise ProbeError(self._explain(exc.reason)) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise ProbeError(self._explain(exc)) from None
        return stamp

    def _request(self, method: str, deadline: float) -> bytes | None:
        """The stamp from one request; None after a HEAD without validators, or refused."""
        request = urllib.request.Request(
            self.url,
            method=method,
            # The identity encoding: the stamp is that of the bytes a plain download gets.
            headers={"User-Agent": user_agent(), "Accept-Encoding": "identity"},
        )
        try:
            response = _opener().open(request, timeout=self._left(deadline))
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (405, 501):
                exc.close()
                return None
            raise
        with response:
            stamp = stamp_of(response.headers)
            if stamp is not None or method == "HEAD":
                return stamp
            return self._digest(response, deadline)

    def _digest(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        hasher = hashlib.blake2b(digest_size=32)
        size = 0
        # read1, not read: read waits for a full chunk, however slowly the server sends it.
        while chunk := response.read1(CHUNK_SIZE):
            size += len(chunk)
            if size > self.max_body:
                raise ProbeError(
                    f"the server sends neither ETag nor Last-Modified, and the body is larger "
                    f"than {self.max_body} bytes, the most that is read to hash it"
                )
            hasher.update(chunk)
            self._left(deadline)
        return b"BLAKE2b-256: " + hasher.hexdigest().encode("ascii")

    def _left(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def _explain(self, reason: object) -> str:
        if isinstance(reason, TimeoutError):
            return f"no complete answer within {self.timeout:g} s"
        if isinstance(reason, http.client.HTTPException):
            return f"invalid answer from the server ({type(reason).__name__}: {reason})"
        return str(reason) or type(reason).__name__

    # --8<-- [end:probe]


def url(address: str) -> str:
    """The key ``url:<address>`` for ``needs=``, checked at once: a typo then fails in the plan,
    at the line that has it, with the message of :func:`check_url`."""
    check_url(address)
    return f"url:{address}"
