"""Issue 13: 200 clients that send their request a byte at a time do not keep normal requests waiting
behind the front (frontProxy nginx): nginx holds their connections until each request is complete, and
gunicorn never sees them. The same slow clients straight at gunicorn (frontProxy none) are measured and
printed next to it, as a fact for docs/benchmarks.md, not asserted (how long gunicorn's threads stay
held depends on the machine)."""

from __future__ import annotations

import statistics
import time

from tests.support.docker_engine.deployer import BASE_URL, HOST_PORT, StackDeployer
from tests.support.docker_engine.load import SlowClients, timed_requests
from tests.support.docker_engine.probing import wait_for_http

SLOW = 200
NORMAL = 20


def measure(deployer: StackDeployer) -> tuple[list[float | None], SlowClients]:
    run = deployer.up()
    assert run.error is None, run.error
    wait_for_http(f"{BASE_URL}/healthz")
    with SlowClients(HOST_PORT, count=SLOW, interval=0.3, max_seconds=30) as slow:
        time.sleep(1.5)  # every slow client has sent a few bytes by now, and keeps sending
        answers = timed_requests(f"{BASE_URL}/healthz", NORMAL, max_seconds=15, timeout=3, pause=0.1)
    return answers, slow


def describe(label: str, answers: list[float | None]) -> str:
    done = sorted(a for a in answers if a is not None)
    median = f"{statistics.median(done) * 1000:.0f} ms" if done else "-"
    worst = f"{done[-1] * 1000:.0f} ms" if done else "-"
    answered = f"{len(done)} of {len(answers)} normal requests answered within 3 s"
    return f"{label}: {answered}, median {median}, worst {worst}"


def test_slow_clients_do_not_hold_back_normal_requests_behind_the_front(
    deployer: StackDeployer, front_deployer: StackDeployer
) -> None:
    without_front, slow_direct = measure(deployer)  # frontProxy none: gunicorn published on 8083
    deployer.cleanup()
    with_front, slow_front = measure(front_deployer)

    print("\n" + describe(f"frontProxy none, {SLOW} slow clients", without_front))
    print(describe(f"frontProxy nginx, {SLOW} slow clients", with_front))
    assert slow_direct.connected == slow_front.connected == SLOW
    # Still dripping while the normal requests ran (1.5 s + 20 x 0.1 s at a byte per 0.3 s).
    assert slow_front.bytes_sent >= SLOW * 8, "the slow clients must really be sending while we measure"
    assert len(with_front) == NORMAL, describe("nginx", with_front)
    assert None not in with_front, describe("nginx", with_front)
    answered = sorted(a for a in with_front if a is not None)
    assert statistics.median(answered) < 0.25, describe("nginx", with_front)
    assert sum(a < 1.0 for a in answered) >= NORMAL - 1, describe("nginx", with_front)
