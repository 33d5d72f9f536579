"""Steady load on the deployed service: N clients, each a keep-alive session sending GETs one after
another, bounded in count and in time; every answer is recorded (time, ok, detail).

What the zero-downtime tests and bench/front_bench.py count: a request failed when it raised (refused,
reset, timed out) or answered anything but 200. Nothing is retried on the client side.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests


@dataclass(frozen=True)
class Answer:
    started: float  # time.time()
    seconds: float
    ok: bool
    detail: str  # the status code, or the exception's class name


@dataclass
class SteadyLoad:
    """`clients` threads GET `urls` in turn (loopback only), until stopped, `max_requests` in all, or
    `max_seconds` passed; use as a context manager around the switch being measured."""

    urls: list[str]
    clients: int = 8
    max_requests: int = 200_000
    max_seconds: float = 600
    timeout: float = 30
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for url in self.urls:
            host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost"):
                raise ValueError(f"load goes to the loopback only, not {url}")

    def __enter__(self) -> SteadyLoad:
        self._deadline = time.monotonic() + self.max_seconds
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _client(self, number: int) -> None:
        session = requests.Session()
        index = number
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            with self._lock:
                if len(self.answers) >= self.max_requests:
                    return
            url = self.urls[index % len(self.urls)]
            index += 1
            started, clock = time.time(), time.perf_counter()
            try:
                status = session.get(url, headers=self.headers, timeout=self.timeout).status_code
                answer = Answer(started, time.perf_counter() - clock, status == 200, str(status))
            except requests.RequestException as exc:
                answer = Answer(started, time.perf_counter() - clock, False, type(exc).__name__)
                session = requests.Session()
            with self._lock:
                self.answers.append(answer)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        """Block until at least `count` answers were recorded (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.answers) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.answers)} of {count} answers within {timeout}s")
            time.sleep(0.05)

    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if not a.ok]

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.started <= end]

    def summary(self) -> str:
        details = Counter(a.detail for a in self.failed)
        return f"{len(self.failed)} failed of {len(self.answers)} ({dict(details) or 'none'})"

    def outage_seconds(self) -> float:
        """From the first failed request's start to the end of the last failed one (0 when none failed)."""
        failed = self.failed
        if not failed:
            return 0.0
        return max(a.started + a.seconds for a in failed) - min(a.started for a in failed)


@dataclass
class SlowClients:
    """`count` connections to 127.0.0.1:`port` that send a request a byte at a time (one byte each every
    `interval` seconds, a header that never ends) for at most `max_seconds`; a slowloris, bounded."""

    port: int
    count: int = 200
    interval: float = 0.3
    max_seconds: float = 30
    connected: int = 0
    bytes_sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            self._sockets.append(sock)
        self.connected = len(self._sockets)
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()
        return self

    def _drip(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        position = 0
        while not self._stop.is_set() and time.monotonic() < deadline and position < len(self.REQUEST):
            byte = self.REQUEST[position : position + 1]
            for sock in self._sockets:
                try:
                    sock.sendall(byte)
                    self.bytes_sent += 1
                except OSError:
                    pass  # the server gave up on this one (a timeout): that is its right
            position += 1
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for sock in self._sockets:
            sock.close()


def timed_requests(
    url: str, count: int, max_seconds: float, timeout: float, pause: float = 0.0
) -> list[float | None]:
    """GET `url` `count` times, one after another on fresh connections (`pause` seconds apart), for at
    most `max_seconds`: each one's seconds to a 200, or None (failed or timed out)."""
    results: list[float | None] = []
    deadline = time.monotonic() + max_seconds
    while len(results) < count and time.monotonic() < deadline:
        clock = time.perf_counter()
        try:
            ok = requests.get(url, timeout=timeout, headers={"Connection": "close"}).status_code == 200
            results.append(time.perf_counter() - clock if ok else None)
        except requests.RequestException:
            results.append(None)
        time.sleep(pause)
    return results
