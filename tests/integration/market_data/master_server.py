"""What the instrument-master tests share: a static file host on 127.0.0.1 serving the fixtures
(Angel's scrip master, Shoonya's symbol zips, Upstox's BOD files, Dhan's compact CSV), the check
of a `MarketDataUnavailableError`, and the download contract every master meets
(`DownloadContract`: each master's test file runs it as its `TestDownloads`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

import pytest
import requests

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market_data.listing import ListedContract
from tests.integration.brokers.stub_server import BrokerStub, Fault, Request, Response, StubHttpServer

CLIENT_TIMEOUT_S = 1.0
STALL_S = 3.0
USER_AGENT = "options-platform/listing"


class Master(Protocol):
    def listed_contracts(self) -> list[ListedContract]: ...


def _not_found() -> Response:
    return Response(404, b"Not Found", "text/plain")


@dataclass
class FileStub(BrokerStub):
    """Serves fixed files by path, like a static file host (gzip bodies as application/gzip)."""

    files: dict[str, bytes] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    missing: Response = field(default_factory=_not_found)

    def route(self, request: Request) -> Response:
        body = self.files.get(request.path)
        if body is None:
            return self.missing
        return Response(200, body, "application/gzip" if body[:2] == b"\x1f\x8b" else self.content_type)


@dataclass
class FileHost:
    """The running host. Each master's test file subclasses it: the files a listing downloads, the
    name of the master in its errors, and `master()`, the master reading from `url`."""

    stub: FileStub
    url: str
    downloads: ClassVar[tuple[str, ...]] = ()  # the paths a listing asks for, in order
    name: ClassVar[str] = ""
    timeout_s: ClassVar[float] = CLIENT_TIMEOUT_S  # the masters' client timeout
    user_agent: ClassVar[str] = USER_AGENT  # of `session()`

    @classmethod
    def source(cls, path: str) -> str:
        """What an error about the file at `path` starts with: the name, and the file's of several."""
        return cls.name if len(cls.downloads) == 1 else f"{cls.name} {path.rsplit('/', 1)[-1]}"

    def master(self, session: requests.Session | None = None) -> Master:
        raise NotImplementedError

    def read(self, session: requests.Session | None = None) -> list[ListedContract]:
        return self.master(session).listed_contracts()

    @classmethod
    @contextmanager
    def serving(
        cls, files: dict[str, bytes], content_type: str, missing: Response | None = None
    ) -> Iterator[Self]:
        stub = FileStub(files=files, content_type=content_type, missing=missing or _not_found())
        with StubHttpServer(stub) as server:
            yield cls(stub=stub, url=server.url)

    @classmethod
    def refusing(cls) -> Self:
        """A host at a port of 127.0.0.1 nothing listens on: every connection is refused."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return cls(stub=FileStub(), url=f"http://127.0.0.1:{probe.getsockname()[1]}")

    @classmethod
    def session(cls) -> requests.Session:
        """A session to inject, told apart by its User-Agent."""
        session = requests.Session()
        session.headers["User-Agent"] = cls.user_agent
        return session

    def put(self, path: str, body: bytes) -> None:
        self.stub.files[path] = body

    def paths(self) -> list[str]:
        return [request.path for request in self.stub.requests]

    def calls(self) -> list[tuple[str, str, str]]:
        """(method, path, User-Agent) of every request, in order."""
        return [(r.method, r.path, r.headers.get("user-agent", "")) for r in self.stub.requests]


def unavailable(read: Callable[[], object], message: str, *, whole: bool = False) -> None:
    """`read()` raises `MarketDataUnavailableError` whose message is (or starts with) `message`."""
    with pytest.raises(MarketDataUnavailableError) as error:
        read()
    if whole:
        assert error.value.message == message
    else:
        assert error.value.message.startswith(message), error.value.message


@dataclass(frozen=True)
class FailedDownload:
    """An error answer in place of a file (or, with no status, the file held back past the timeout)."""

    status: int | None
    body: bytes = b""
    content_type: str = "text/plain"

    @property
    def cause(self) -> str:
        if self.status is None:
            return f"unavailable: no answer in {CLIENT_TIMEOUT_S}s"
        return f"unavailable: HTTP {self.status}"

    def check(self, host: FileHost, path: str) -> None:
        """The download of `path` fails this way: the listing raises "<source>: <cause>", in time."""
        stall_s = STALL_S if self.status is None else 0.0
        host.stub.faults.append(Fault(path, self.status, self.body, self.content_type, stall_s))
        started = time.monotonic()
        unavailable(host.read, f"{host.source(path)}: {self.cause}", whole=True)
        assert time.monotonic() - started < STALL_S


FAILED_DOWNLOADS = [
    pytest.param(FailedDownload(500, b"<html>500</html>", "text/html"), id="500"),
    pytest.param(FailedDownload(503, b"Service Unavailable"), id="503"),
    pytest.param(FailedDownload(403, b"AccessDenied", "text/xml"), id="403"),
    pytest.param(FailedDownload(404, b"Not Found"), id="404"),
    pytest.param(FailedDownload(None), id="stall"),
]


class DownloadContract:
    """What every master does with its downloads, whatever their format: an injected session
    fetches every file; a failed download of any one of them (an error answer, or none in time),
    a refused connection, or a file that cannot be read (`unusable_bodies`: cut short, empty, an
    HTML page, the wrong shape) fails the whole listing (no NSE-only or partial list) as
    `MarketDataUnavailableError` naming the file. A master's test file runs it as its
    `TestDownloads`, with its `FileHost` subclass as `site` and its `host` fixture."""

    site: ClassVar[type[FileHost]]
    unusable_path: ClassVar[str]
    # (body served at `unusable_path`, what the error says after "malformed answer: "), one per id
    unusable_bodies: ClassVar[list[tuple[bytes, str]]]
    unusable_ids: ClassVar[list[str]]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "path" in metafunc.fixturenames:
            paths = self.site.downloads
            metafunc.parametrize("path", paths, ids=[path.rsplit("/", 1)[-1] for path in paths])
        if "body" in metafunc.fixturenames:
            metafunc.parametrize(("body", "cause"), self.unusable_bodies, ids=self.unusable_ids)

    def test_the_injected_session_fetches_every_file(self, host: FileHost) -> None:
        host.read(session=host.session())
        assert host.calls() == [("GET", path, host.user_agent) for path in host.downloads]

    @pytest.mark.parametrize("failure", FAILED_DOWNLOADS)
    def test_a_failed_download_fails_the_whole_listing(
        self, host: FileHost, path: str, failure: FailedDownload
    ) -> None:
        failure.check(host, path)

    def test_a_refused_connection_raises_market_data_unavailable(self) -> None:
        first = self.site.source(self.site.downloads[0])
        unavailable(self.site.refusing().read, f"{first}: unavailable: ConnectionError")

    def test_an_unusable_body_fails_the_whole_listing(self, host: FileHost, body: bytes, cause: str) -> None:
        host.put(self.unusable_path, body)
        unavailable(host.read, f"{host.source(self.unusable_path)}: malformed answer: {cause}")
