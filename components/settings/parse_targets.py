"""The docker and kubernetes parts of the settings (every stack has both; `target` picks one to deploy)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from components.contract import CONTAINER_NAME, PROJECT
from components.settings.model import (
    TERMINATION_MARGIN_SECONDS,
    DockerSettings,
    IngressSettings,
    KubernetesSettings,
    NetworkPolicySettings,
)
from components.settings.rules import (
    DIGEST,
    DNS_LABEL,
    DNS_NAME,
    DOCKER_HOST_SCHEMES,
    FRONT_PROXIES,
    METRICS_MONITORS,
    RESTART_POLICIES,
    SERVICE_TYPES,
    SUFFIX,
    Raw,
    boolean,
    cidr_list,
    cpu_millis,
    int_in_range,
    memory_bytes,
    name_list,
    one_of,
    proxy_cidrs,
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
    front_proxy = one_of(problems, "frontProxy", raw("frontProxy"), FRONT_PROXIES)
    front_image = raw("frontImage")
    repository, at, digest = front_image.rpartition("@")
    pinned = bool(at and repository and DIGEST.match(digest)) or bool(DIGEST.match(front_image))
    if front_proxy == "nginx" and (not pinned or any(c.isspace() for c in front_image)):
        problems.append(
            f"frontImage = {front_image!r} is not allowed: expected an nginx image pinned by digest, "
            "<repository>[:tag]@sha256:<64 hex> or a local image ID sha256:<64 hex> (a tag alone can "
            "move under a running front)"
        )
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
        front_proxy=front_proxy,  # type: ignore[arg-type]  # checked against FRONT_PROXIES above
        front_image=front_image,
    )


def kubernetes_settings(
    problems: list[str], raw: Raw, target: str, graceful_timeout: int, database_url: str
) -> KubernetesSettings:
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
    service_type = one_of(problems, "serviceType", raw("serviceType"), SERVICE_TYPES)
    pre_stop = int_in_range(problems, "preStopSeconds", raw("preStopSeconds"), 0, 60)
    # The kubelet counts the grace period from the start of the preStop hook: the pause and gunicorn's
    # whole graceful drain must both fit in it, with room to spare before SIGKILL.
    grace = pre_stop + graceful_timeout + TERMINATION_MARGIN_SECONDS
    if not pre_stop + graceful_timeout < grace:  # holds by construction; guards an edit of the sum
        problems.append(
            f"preStopSeconds = {pre_stop} + gracefulTimeout = {graceful_timeout} must be less than the "
            f"termination grace of {grace} s, or gunicorn is killed while it drains"
        )
    return KubernetesSettings(
        kubeconfig=raw("kubeconfig") or None,
        context=raw("kubeContext") or None,
        namespace=namespace,
        replicas=int_in_range(problems, "replicas", raw("replicas"), 1, 50),
        service_type=service_type,
        metrics_monitor=one_of(problems, "metricsMonitor", raw("metricsMonitor"), METRICS_MONITORS),
        cpu_request=raw("cpuRequest"),
        cpu_limit=raw("cpuLimit"),
        memory_request=raw("memoryRequest"),
        memory_limit=raw("memoryLimit"),
        pre_stop_seconds=pre_stop,
        termination_grace_seconds=grace,
        network_policy=_network_policy(problems, raw, target, service_type, database_url),
        ingress=_ingress(problems, raw),
        trusted_proxies=proxy_cidrs(problems, "trustedProxies", raw("trustedProxies")),
    )


def _network_policy(
    problems: list[str], raw: Raw, target: str, service_type: str, database_url: str
) -> NetworkPolicySettings | None:
    enabled = boolean(problems, "networkPolicy", raw("networkPolicy"))
    client_namespaces = name_list(problems, "clientNamespaces", raw("clientNamespaces"))
    client_cidrs = cidr_list(problems, "clientCidrs", raw("clientCidrs"))
    controller = raw("ingressControllerNamespace")
    if controller and not DNS_LABEL.match(controller):
        problems.append(
            f"ingressControllerNamespace = {controller!r} is not allowed: expected empty or a namespace "
            "name (a DNS label)"
        )
    metrics_namespaces = name_list(problems, "metricsNamespaces", raw("metricsNamespaces"))
    dns_namespace = raw("dnsNamespace")
    if not DNS_LABEL.match(dns_namespace):
        problems.append(f"dnsNamespace = {dns_namespace!r} is not allowed: expected a namespace name")
    database_cidrs = cidr_list(problems, "databaseCidrs", raw("databaseCidrs"))
    host, port = _database_address(database_url)
    if not database_cidrs and host is not None:
        try:
            database_cidrs = (str(ipaddress.ip_network(host)),)
        except ValueError:
            pass  # a host name: a NetworkPolicy cannot name it
    if not enabled:
        return None
    if target == "kubernetes" and service_type != "ClusterIP" and not client_cidrs:
        problems.append(
            f"clientCidrs = '' is not allowed with serviceType {service_type} and networkPolicy on: "
            "traffic from outside the cluster would be dropped; set the callers' ranges, e.g. "
            "`pulumi config set clientCidrs 203.0.113.0/24`, or networkPolicy false"
        )
    return NetworkPolicySettings(
        client_namespaces=client_namespaces,
        client_cidrs=client_cidrs,
        ingress_controller_namespace=controller or None,
        metrics_namespaces=metrics_namespaces,
        dns_namespace=dns_namespace,
        database_cidrs=database_cidrs,
        database_port=port,
    )


def _database_address(database_url: str) -> tuple[str | None, int]:
    """The database's host and port (5432 unless the URL says); never echoes the URL."""
    try:
        parts = urlsplit(database_url)
        return parts.hostname, parts.port or 5432
    except ValueError:  # a malformed port: parse.py reports the URL itself
        return None, 5432


def _ingress(problems: list[str], raw: Raw) -> IngressSettings | None:
    enabled = boolean(problems, "ingress", raw("ingress"))
    class_name, host, tls_secret = raw("ingressClass"), raw("ingressHost"), raw("ingressTlsSecret")
    if not DNS_NAME.match(class_name):
        problems.append(f"ingressClass = {class_name!r} is not allowed: expected an IngressClass name")
    if host and not DNS_NAME.match(host):
        problems.append(
            f"ingressHost = {host!r} is not allowed: expected a lowercase DNS name such as "
            "microservice.model.com (no scheme, port or wildcard)"
        )
    if tls_secret and not DNS_NAME.match(tls_secret):
        problems.append(f"ingressTlsSecret = {tls_secret!r} is not allowed: expected empty or a Secret name")
    if not enabled:
        return None
    if not host:
        problems.append("ingressHost = '' is not allowed with ingress on: name the host the Ingress answers")
    return IngressSettings(class_name=class_name, host=host, tls_secret=tls_secret or None)
