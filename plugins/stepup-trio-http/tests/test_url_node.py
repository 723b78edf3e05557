"""The url node kind on its own: keys, probes against a local server, and what the graph shows."""

import hashlib
import importlib.metadata
import re
import time
from typing import ClassVar

import attrs
import pytest
from local_server import Resource, Server, Site
from stepup_trio.core.explain import explain
from stepup_trio.core.stephash import StepHash, compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError
from stepup_trio.plugin_api import NODE_KINDS_GROUP, ProbeError, SourceNode
from stepup_trio.plugins import load_plugins

from stepup_trio_http import UrlNode, shown_stamp, url, user_agent

EXAMPLE = "url:https://example.org/data.csv"


# --8<-- [start:entry-point-test]
def test_registered_as_entry_point():
    assert load_plugins().kinds["url"] is UrlNode
    assert issubclass(UrlNode, SourceNode)
    (entry_point,) = importlib.metadata.entry_points(group=NODE_KINDS_GROUP, name="url")
    assert entry_point.dist.metadata["Name"] == "stepup-trio-http"


# --8<-- [end:entry-point-test]

# Keys


@pytest.mark.parametrize(
    "address",
    [
        "https://example.org/data.csv",
        "http://example.org",
        "http://127.0.0.1:8000/a/b?x=1&y=%C3%A9",
        "https://[::1]:443/",
        "https://xn--mnchen-3ya.de/",
    ],
)
def test_valid_keys(address: str):
    node = UrlNode.from_local_key(address)
    assert type(node) is UrlNode
    assert node.url == node.local_key == address
    assert node.key == f"url:{address}"
    assert node.stamp is None
    assert url(address) == node.key


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("", "must start with http:// or https://"),
        ("example.org/data.csv", "must start with http:// or https://"),
        ("ftp://example.org/data.csv", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("HTTPS://example.org/", "must start with http:// or https://"),
        ("https://example.org/my data.csv", "contains ' ': percent-encode"),
        ("https://example.org/a\nb", "contains '\\n': percent-encode"),
        ("https://example.org/dätä.csv", "contains 'ä': percent-encode"),
        ("https://münchen.de/", "xn--"),
        ("https://", "has no host name"),
        ("https:///data.csv", "has no host name"),
        ("https://example.org:99999/", "is not a valid URL"),
        ("https://example.org:port/", "is not a valid URL"),
        ("https://[::1/", "is not a valid URL"),
        ("https://user:secret@example.org/", "credentials"),
        ("https://example.org/data.csv#top", "fragment"),
    ],
)
def test_invalid_keys(address: str, problem: str):
    with pytest.raises(ValueError) as info:
        UrlNode.from_local_key(address)
    message = str(info.value)
    assert problem in message
    assert message.endswith(f"A valid key looks like {EXAMPLE}")
    with pytest.raises(ValueError, match=re.escape(problem)):
        url(address)


def test_invalid_key_refuses_the_step():
    """The core turns the ValueError into the reason why the step cannot be defined."""
    workflow = Workflow.boot(load_plugins().kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    with pytest.raises(GraphError) as info:
        workflow.define_step(plan, "wget ftp://x/y", needs=["url:ftp://x/y"])
    assert str(info.value).startswith(
        "Invalid source 'url:ftp://x/y' in needs: 'ftp://x/y' is not an http(s) URL"
    )
    assert workflow.step("wget ftp://x/y") is None
    step = workflow.define_step(plan, "wget https://x/y", needs=[url("https://x/y")] * 2)
    assert workflow.step("wget https://x/y") is step
    assert step.needs == ("url:https://x/y",)
    (source,) = step.suppliers.keys() - {workflow.file("./")}
    assert type(source) is UrlNode
    assert source.creator is workflow.graph.root


# Probes


def probe(node: UrlNode) -> bytes:
    """Probe, and check what every probe must do: leave the node as it is, and be quick."""
    start = time.monotonic()
    stamp = node.probe()
    assert time.monotonic() - start < 5
    assert node.stamp is None
    return stamp


def test_strong_etag(site: Site):
    site.resources["/data"] = Resource(b"1,2\n", {"ETag": '"v1"', "Last-Modified": "x"})
    assert probe(UrlNode(site.url())) == b'ETag: "v1"'
    # One HEAD, with the plugin's User-Agent: the body is not downloaded.
    version = importlib.metadata.version("stepup-trio-http")
    assert site.requests == [("HEAD", "/data", user_agent())]
    assert user_agent().startswith(f"stepup-trio-http/{version} ")


def test_weak_etag(site: Site):
    site.resources["/data"] = Resource(b"1,2\n", {"ETag": 'W/"v1"'})
    assert probe(UrlNode(site.url())) == b'ETag: W/"v1"'


def test_etag_changes_stamp(site: Site):
    node = UrlNode(site.url())
    stamps = set()
    for etag in '"a"', '"b"', 'W/"a"', '"a"':
        site.resources["/data"] = Resource(b"same", {"ETag": etag})
        stamps.add(probe(node))
    assert len(stamps) == 3


def test_last_modified_and_length(site: Site):
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    site.resources["/data"] = Resource(b"1,2\n", {"Last-Modified": modified})
    node = UrlNode(site.url())
    assert probe(node) == f"Last-Modified: {modified}; Content-Length: 4".encode()
    # The same second, another length: another stamp.
    site.resources["/data"] = Resource(b"1,2,3\n", {"Last-Modified": modified})
    assert probe(node) == f"Last-Modified: {modified}; Content-Length: 6".encode()
    site.resources["/data"] = Resource(b"", {"Last-Modified": modified, "Content-Length": None})
    assert probe(node) == f"Last-Modified: {modified}; Content-Length: ".encode()
    assert [method for method, _, _ in site.requests] == ["HEAD"] * 3


def test_no_validators_hashes_the_body(site: Site):
    body = bytes(range(256)) * 1000  # several chunks
    site.resources["/data"] = Resource(body)
    node = UrlNode(site.url())
    digest = hashlib.blake2b(body, digest_size=32).hexdigest()
    assert probe(node) == f"BLAKE2b-256: {digest}".encode()
    assert [request[:2] for request in site.requests] == [("HEAD", "/data"), ("GET", "/data")]
    assert site.requests[1][2] == user_agent()
    site.resources["/data"] = Resource(body[:-1] + b"!")
    assert probe(node) != f"BLAKE2b-256: {digest}".encode()


def test_no_validators_without_length(site: Site):
    site.resources["/data"] = Resource(b"abc", {"Content-Length": None})
    digest = hashlib.blake2b(b"abc", digest_size=32).hexdigest()
    assert probe(UrlNode(site.url())) == f"BLAKE2b-256: {digest}".encode()


def test_validators_of_get_when_head_has_none(site: Site):
    """Some servers send an ETag only with the body: then that is the stamp."""
    site.resources["/data"] = Resource(b"abc", get_headers={"ETag": '"g"'})
    assert probe(UrlNode(site.url())) == b'ETag: "g"'
    assert [method for method, _, _ in site.requests] == ["HEAD", "GET"]


@pytest.mark.parametrize("status", [405, 501])
def test_head_refused(site: Site, status: int):
    """A server that refuses HEAD is asked with GET."""
    node = UrlNode(site.url())
    site.resources["/data"] = Resource(b"abc", {"ETag": '"g"'}, head_status=status)
    assert probe(node) == b'ETag: "g"'
    site.resources["/data"] = Resource(b"abc", head_status=status)
    digest = hashlib.blake2b(b"abc", digest_size=32).hexdigest()
    assert probe(node) == f"BLAKE2b-256: {digest}".encode()
    assert [method for method, _, _ in site.requests] == ["HEAD", "GET", "HEAD", "GET"]


def test_head_forbidden_is_an_error(site: Site):
    """Only 405 and 501 say that HEAD is not supported; a 403 is an answer."""
    site.resources["/data"] = Resource(b"abc", {"ETag": '"g"'}, head_status=403)
    expect_failure(UrlNode(site.url()), "HTTP error 403 Forbidden")


def test_redirects_are_followed_with_head(site: Site):
    site.resources["/old"] = Resource(status=301, headers={"Location": "/older"})
    site.resources["/older"] = Resource(status=302, headers={"Location": site.url("/data")})
    site.resources["/data"] = Resource(b"abc", {"ETag": '"v1"'})
    assert probe(UrlNode(site.url("/old"))) == b'ETag: "v1"'
    assert [request[:2] for request in site.requests] == [
        ("HEAD", "/old"),
        ("HEAD", "/older"),
        ("HEAD", "/data"),
    ]
    assert {request[2] for request in site.requests} == {user_agent()}


def expect_failure(node: UrlNode, pattern: str) -> str:
    start = time.monotonic()
    with pytest.raises(ProbeError, match=pattern) as info:
        node.probe()
    assert time.monotonic() - start < 5
    assert node.stamp is None
    return str(info.value)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "HTTP error 404 Not Found"),
        (403, "HTTP error 403 Forbidden"),
        (500, "HTTP error 500 Internal Server Error"),
        (503, "HTTP error 503 Service Unavailable"),
    ],
)
def test_http_errors(site: Site, status: int, message: str):
    site.resources["/data"] = Resource(b"oops", {"ETag": '"e"'}, status=status)
    assert expect_failure(UrlNode(site.url()), "HTTP error") == message


def test_missing_after_redirect(site: Site):
    site.resources["/old"] = Resource(status=302, headers={"Location": "/gone"})
    message = expect_failure(UrlNode(site.url("/old")), "HTTP error 404")
    assert message == f"HTTP error 404 Not Found from {site.url('/gone')}"


def test_redirect_loop(site: Site):
    site.resources["/loop"] = Resource(status=302, headers={"Location": "/loop"})
    expect_failure(UrlNode(site.url("/loop")), "HTTP error 302 .*infinite loop")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:,abc"])
def test_redirect_to_other_schemes_is_refused(site: Site, target: str):
    site.resources["/sneaky"] = Resource(status=302, headers={"Location": target})
    expect_failure(UrlNode(site.url("/sneaky")), "HTTP error 302|unknown url type")


def test_connection_refused(server: Server, site: Site):
    node = UrlNode(site.url())
    server.stop()
    assert expect_failure(node, "Connection refused") == "[Errno 111] Connection refused"


def test_hang_up(site: Site):
    site.resources["/data"] = Resource(hang_up=True)
    expect_failure(UrlNode(site.url()), r"invalid answer from the server \(RemoteDisconnected")


@attrs.define(eq=False, repr=False)
class QuickUrlNode(UrlNode):
    """A url node that gives up sooner, so that the tests of slow servers are quick."""

    timeout: ClassVar[float] = 0.5
    max_body: ClassVar[int] = 10_000


def test_slow_answer(site: Site):
    site.resources["/data"] = Resource(b"abc", {"ETag": '"v1"'}, delay=30)
    start = time.monotonic()
    message = expect_failure(QuickUrlNode(site.url()), "no complete answer within 0.5 s")
    assert time.monotonic() - start < 2
    assert message == "no complete answer within 0.5 s"


def test_slow_body(site: Site):
    """Without validators the body is read within the same time limit, however it trickles."""
    site.resources["/data"] = Resource(b"x" * 9000, drip=0.25)  # 2 s in all
    start = time.monotonic()
    expect_failure(QuickUrlNode(site.url()), "no complete answer within 0.5 s")
    assert time.monotonic() - start < 1.5


def test_body_too_large(site: Site):
    site.resources["/data"] = Resource(b"x" * 10_001, {"Content-Length": None})
    message = expect_failure(QuickUrlNode(site.url()), "neither ETag nor Last-Modified")
    assert message.endswith("larger than 10000 bytes, the most that is read to hash it")
    site.resources["/data"] = Resource(b"x" * 10_000)
    assert QuickUrlNode(site.url()).probe().startswith(b"BLAKE2b-256: ")


def test_hostile_header_is_kept_and_shown_safely(site: Site):
    site.resources["/data"] = Resource(b"abc", {"ETag": 'W/"caf\xe9\\\x7f"'})
    node = UrlNode(site.url())
    node.stamp = node.probe()
    assert node.stamp == b'ETag: W/"caf\xe9\\\x7f"'
    assert dict(node.properties())["stamp"] == 'ETag: W/"caf\\xe9\\x5c\\x7f"'


def test_explain_shows_the_change_of_a_stamp():
    """What ``stepup -e`` prints for a step whose URL got a new ETag."""
    key = "url:https://example.org/data.csv"

    def step_hash(stamp: bytes) -> StepHash:
        return compute_step_hash("step:x", [], {}, [], extended=True, sources=[(key, stamp)])

    changed, _ = explain(step_hash(b'ETag: "v1"'), step_hash(b'ETag: "v2"'))
    (line,) = [line for line in changed if line.startswith("Modified source")]
    assert "➜" in line, line  # it is 'Modified source      url:... (stamp 45546167)'


# What the graph shows


def test_properties():
    node = UrlNode.from_local_key("https://example.org/data.csv")
    assert list(node.properties()) == [
        ("url", "https://example.org/data.csv"),
        ("stamp", "(not probed)"),
    ]
    node.stamp = b'ETag: "v1"'
    assert list(node.properties()) == [
        ("url", "https://example.org/data.csv"),
        ("stamp", 'ETag: "v1"'),
    ]
    assert shown_stamp(b"BLAKE2b-256: 00ff") == "BLAKE2b-256: 00ff"
    assert repr(node) == "<UrlNode url:https://example.org/data.csv>"


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("https://example.org/data.csv", "example.org/data.csv"),
        ("https://example.org", "example.org/"),
        ("http://127.0.0.1:8000/a?x=1", "127.0.0.1:8000/a?…"),
        (
            "https://data.example.org/archive/2024/measurements/station-17/readings.csv",
            "data.example.org/…/readings.csv",
        ),
    ],
)
def test_dot_label(address: str, label: str):
    node = UrlNode.from_local_key(address)
    assert node.dot_label() == label
    assert node.dot_attributes() == " shape=hexagon fillcolor=7"
    assert node.shown_in_supplier_dot()
