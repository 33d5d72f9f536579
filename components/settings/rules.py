"""What each kind of value allows: the allowed sets, patterns and small checks `parse` applies.

Each check appends a problem line ("key = value is not allowed: expected ...") instead of raising,
so one run reports every bad key at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from components.settings.model import FrontProxy, Target

TARGETS: tuple[Target, ...] = ("docker", "kubernetes")
RUNTIME_ENVS = ("test", "prod")
FRONT_PROXIES: tuple[FrontProxy, ...] = ("nginx", "none")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
# PodMonitor (Prometheus Operator) scrapes the pods' named metrics port without any Service exposing it.
METRICS_MONITORS = ("none", "PodMonitor")
DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://")
LOCAL_DOCKER_SCHEMES = ("unix://", "npipe://")  # an engine on the machine running Pulumi
DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")
SECRET_KEYS = ("databaseUrl", "secretKey", "registryPassword", "keyEncryptionKey")

SUFFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,30}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A DNS subdomain (RFC 1123), as Kubernetes names most objects and as an Ingress host is written.
DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
BOOLEANS = {"true": True, "false": False}
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
REGISTRY_HOST = re.compile(r"^[a-zA-Z0-9.-]+(:[0-9]+)?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")  # what `docker` and OCI registries accept: lowercase hex
PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
BUILD_STAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CPU = re.compile(r"^([0-9]+(\.[0-9]+)?)(m?)$")
_MEMORY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}

PUBLIC_URL_ALLOWED = (
    "an http(s) URL with a host and no path, query, user or fragment, e.g. https://auth.example.com"
)

Raw = Callable[[str], str]  # a key's raw string value, the default when the stack leaves it out


def int_in_range(problems: list[str], key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append(f"{key} = {raw!r} is not allowed: expected a whole number from {low} to {high}")
        return low
    return value


def one_of(problems: list[str], key: str, raw: str, allowed: Collection[str]) -> str:
    if raw not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        problems.append(f"{key} = {raw!r} is not allowed: expected one of {choices}")
    return raw


def boolean(problems: list[str], key: str, raw: str) -> bool:
    value = BOOLEANS.get(raw.strip().lower())
    if value is None:
        problems.append(f"{key} = {raw!r} is not allowed: expected true or false")
        return False
    return value


def items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def name_list(problems: list[str], key: str, raw: str) -> tuple[str, ...]:
    """Comma-separated namespace names."""
    names = items(raw)
    bad = [name for name in names if not DNS_LABEL.match(name)]
    if bad:
        problems.append(
            f"{key} = {raw!r} is not allowed: {', '.join(repr(b) for b in bad)} is not a namespace name; "
            "expected comma-separated DNS labels, e.g. frontend,batch"
        )
    return tuple(names)


def cidr_list(problems: list[str], key: str, raw: str) -> tuple[str, ...]:
    """Comma-separated IP networks (a bare address is its /32 or /128), normalised."""
    networks = []
    for item in items(raw):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            problems.append(
                f"{key} = {raw!r} is not allowed: {item!r} is not an IP network; expected comma-separated "
                "CIDRs, e.g. 10.20.0.0/16,192.0.2.10/32"
            )
    return tuple(networks)


# The widest network trustedProxies may name: wider, and clients on the internet could be "proxies" that
# choose the address their login failures are counted against.
MIN_PROXY_PREFIX = {4: 8, 6: 32}


def proxy_cidrs(problems: list[str], key: str, raw: str) -> tuple[str, ...]:
    """Like cidr_list, but no network wider than MIN_PROXY_PREFIX: the proxies in front of the pods."""
    networks = cidr_list(problems, key, raw)
    for network in map(ipaddress.ip_network, networks):
        if network.prefixlen < MIN_PROXY_PREFIX[network.version]:
            problems.append(
                f"{key} = {raw!r} is not allowed: {str(network)!r} is wider than "
                f"/{MIN_PROXY_PREFIX[network.version]}; name the proxies' own range (e.g. the cluster's "
                "pod CIDR, 10.244.0.0/16): every address in it may set the client address the pods believe"
            )
    return networks


def cpu_millis(raw: str) -> Decimal | None:
    match = _CPU.match(raw)
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
        return None
    return number if match.group(3) == "m" else number * 1000


def memory_bytes(raw: str) -> int | None:
    match = _MEMORY.match(raw)
    if not match:
        return None
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def registry_host(repository: str) -> str | None:
    """The registry part of an image repository, as Docker reads it (`host[:port]/path`)."""
    first, sep, _ = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def repository_path(repository: str) -> str:
    """The repository without its registry host."""
    return repository.split("/", 1)[-1] if registry_host(repository) else repository


def describe_secret(raw: str) -> str:
    return f"<secret, {len(raw)} characters>"


def public_url(problems: list[str], key: str, raw: str) -> str:
    """An origin, `scheme://host[:port]`, or "" when `raw` is empty.

    The same rule as the service's PUBLIC_URL (app/service/config.py, `public_url`), written again here
    because components do not import app code; tests/program/test_public_url_setting.py runs both on
    the same examples. The value is normalised as the service does (a trailing `/` dropped).
    """
    value = raw.strip()
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        problems.append(f"{key} = {raw!r} is not allowed: expected empty or {PUBLIC_URL_ALLOWED}")
        return ""
    return f"{parts.scheme}://{parts.netloc}"
