"""Watch the deployed service over HTTP: a probe every 50 ms from a thread, or wait for a 200."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import requests


@dataclass
class Prober:
    """GETs a URL every `interval` seconds from a thread and records (time, ok) for each probe."""

    url: str
    interval: float = 0.05
    probes: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Prober:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = session.get(self.url, timeout=1).status_code == 200
            except requests.RequestException:
                ok = False
                session = requests.Session()  # drop a keep-alive connection to the old container
            self.probes.append((started, ok))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    @property
    def failed(self) -> int:
        return sum(1 for _, ok in self.probes if not ok)

    def outage_seconds(self) -> float:
        """From the first failed probe to the first good probe after the last failed one."""
        failed = [i for i, (_, ok) in enumerate(self.probes) if not ok]
        if not failed:
            return 0.0
        end = failed[-1] + 1
        last = self.probes[end][0] if end < len(self.probes) else self.probes[-1][0]
        return last - self.probes[failed[0]][0]


def wait_for_http(url: str, timeout: float = 60) -> requests.Response:
    """GET url until it answers 200 (the container may be restarting)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s; last: {last}")
