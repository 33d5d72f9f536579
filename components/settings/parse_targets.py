"""The docker and kubernetes parts of the settings (every stack has both; `target` picks one to deploy)."""

from __future__ import annotations

import ipaddress

from components.contract import CONTAINER_NAME, PROJECT
from components.settings.model import DockerSettings, KubernetesSettings
from components.settings.rules import (
    DNS_LABEL,
    DOCKER_HOST_SCHEMES,
    METRICS_MONITORS,
    RESTART_POLICIES,
    SERVICE_TYPES,
    SUFFIX,
    Raw,
    cpu_millis,
    int_in_range,
    memory_bytes,
    one_of,
)


def docker_settings(problems: list[str], raw: Raw, stack: str, runtime_env: str) -> DockerSettings:
    docker_host = raw("dockerHost")
    if not docker_host.startswith(DOCKER_HOST_SCHEMES):
        problems.append(
            f"dockerHost = {docker_host!r} is not allowed: expected a URL starting with "
            + ", ".join(DOCKER_HOST_SCHEMES)
        )
    suffix = raw("containerSuffix")
    if suffix and not SUFFIX.match(suffix):
        problems.append(
            f"containerSuffix = {suffix!r} is not allowed: expected empty or up to 31 characters of "
            "a-z, 0-9, '_', '.', '-' starting with a letter or digit"
        )
    host_ip = raw("hostIp")
    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        problems.append(
            f"hostIp = {host_ip!r} is not allowed: expected an IP address, e.g. 0.0.0.0 or 127.0.0.1"
        )
    log_dir = raw("logDir") or f"/tmp/data/{runtime_env}/logs"  # noqa: S108 - the old script's log path
    if not log_dir.startswith("/") or ":" in log_dir or any(c.isspace() for c in log_dir):
        problems.append(
            f"logDir = {log_dir!r} is not allowed: expected an absolute host path without ':' or spaces"
        )
    name_suffix = f"-{suffix}" if suffix else ""
    return DockerSettings(
        host=docker_host,
        container_name=f"{CONTAINER_NAME}{name_suffix}",
        host_ip=host_ip,
        host_port=int_in_range(problems, "hostPort", raw("hostPort"), 1, 65535),
        log_dir=log_dir,
        restart_policy=one_of(problems, "restartPolicy", raw("restartPolicy"), RESTART_POLICIES),
        healthy_timeout=int_in_range(problems, "healthyTimeout", raw("healthyTimeout"), 10, 3600),
        network_name=f"{PROJECT}-{stack}{name_suffix}",
        volume_name=f"{PROJECT}-data-{stack}{name_suffix}",
    )


def kubernetes_settings(problems: list[str], raw: Raw) -> KubernetesSettings:
    namespace = raw("namespace")
    if not DNS_LABEL.match(namespace):
        problems.append(
            f"namespace = {namespace!r} is not allowed: expected a DNS label (a-z, 0-9, '-', at most 63)"
        )
    cpu = {key: cpu_millis(raw(key)) for key in ("cpuRequest", "cpuLimit")}
    for key, millis in cpu.items():
        if millis is None or millis <= 0:
            problems.append(f"{key} = {raw(key)!r} is not allowed: expected CPU cores like 250m, 0.5 or 2")
    memory = {key: memory_bytes(raw(key)) for key in ("memoryRequest", "memoryLimit")}
    for key, size in memory.items():
        if size is None or size <= 0:
            problems.append(f"{key} = {raw(key)!r} is not allowed: expected memory like 256Mi or 1Gi")
    cpu_request, cpu_limit = cpu["cpuRequest"], cpu["cpuLimit"]
    if cpu_request and cpu_limit and cpu_request > cpu_limit:
        problems.append(
            f"cpuRequest = {raw('cpuRequest')!r} is not allowed: "
            f"it must not exceed cpuLimit {raw('cpuLimit')!r}"
        )
    memory_request, memory_limit = memory["memoryRequest"], memory["memoryLimit"]
    if memory_request and memory_limit and memory_request > memory_limit:
        problems.append(
            f"memoryRequest = {raw('memoryRequest')!r} is not allowed: "
            f"it must not exceed memoryLimit {raw('memoryLimit')!r}"
        )
    return KubernetesSettings(
        kubeconfig=raw("kubeconfig") or None,
        context=raw("kubeContext") or None,
        namespace=namespace,
        replicas=int_in_range(problems, "replicas", raw("replicas"), 1, 50),
        service_type=one_of(problems, "serviceType", raw("serviceType"), SERVICE_TYPES),
        metrics_monitor=one_of(problems, "metricsMonitor", raw("metricsMonitor"), METRICS_MONITORS),
        cpu_request=raw("cpuRequest"),
        cpu_limit=raw("cpuLimit"),
        memory_request=raw("memoryRequest"),
        memory_limit=raw("memoryLimit"),
    )
