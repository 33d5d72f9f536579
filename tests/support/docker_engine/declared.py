"""The declared inputs a harness step reads, and its errors: nothing it does not understand passes."""

from __future__ import annotations

import re
from typing import Any

from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

HARNESS_LABEL = "microservice-model.deploy-test"
LOCAL_DOCKER_HOSTS = {"", "unix:///var/run/docker.sock"}


class HarnessError(RuntimeError):
    """A declared resource the harness cannot carry out, or one the engine refused."""


class FailedToInitialise(HarnessError):
    """The container was created but did not start or get healthy. Like the Terraform bridge, the
    harness keeps it (and its id) in the state marked with the error ("failed to initialise"); what the
    next run does with it depends on the diff (mocks.py `container_plan`)."""

    def __init__(self, container_id: str, error: Exception) -> None:
        super().__init__(str(error))
        self.container_id = container_id


class Declared:
    """The declared inputs of one resource (or nested block); every key must be read, or it fails."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.where = where
        self._values = dict(values)
        self._read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self._read.add(key)
        value = self._values.get(key)
        return default if value is None else value

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise HarnessError(f"{self.where}: '{key}' must be declared")
        return value

    def block(self, key: str) -> Declared | None:
        value = self.get(key)
        return None if value is None else Declared(f"{self.where}.{key}", value)

    def blocks(self, key: str) -> list[Declared]:
        return [Declared(f"{self.where}.{key}[{i}]", v) for i, v in enumerate(self.get(key, []))]

    def done(self) -> None:
        """Fail loudly on any declared input nobody read: the harness would otherwise ignore it."""
        unread = sorted(set(self._values) - self._read)
        if unread:
            raise HarnessError(f"{self.where}: the harness does not understand declared inputs {unread}")


GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration_ns(text: str) -> int:
    """'1m30s' -> nanoseconds, as the Docker provider parses healthcheck durations (Go syntax)."""
    parts = GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise HarnessError(f"healthcheck duration {text!r} is not a Go duration such as '5s' or '1m30s'")
    return int(sum(float(n) * NANOS[u] for n, u in parts))


def reveal(value: Any) -> Any:
    """Secret inputs reach the mock wrapped ({sig: secret, value: ...}); a provider sees the value."""
    if is_rpc_secret(value):
        return reveal(unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def as_int(value: Any) -> int:
    # Pulumi sends every number as a float over the wire.
    return int(value)
