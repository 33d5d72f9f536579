"""Who may reach the app's pods and what they may reach: a NetworkPolicy, and the optional Ingress."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contract import METRICS_PORT, PROJECT, PUBLIC_PORT, SERVICE_PORT
from components.outputs import public_outputs
from components.settings import IngressSettings, NetworkPolicySettings

# Every namespace carries this label with its own name (Kubernetes >= 1.22): a namespace by name.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_PORT = 53
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


@dataclass(frozen=True, kw_only=True)
class KubernetesNetworkArgs:
    namespace: pulumi.Output[str]
    labels: dict[str, str]  # every pod of the app (the API pods and the migration Job's)
    network_policy: NetworkPolicySettings | None
    ingress: IngressSettings | None
    service_name: pulumi.Output[str]


def _from_namespaces(names: tuple[str, ...]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: name})
        )
        for name in names
    ]


def _port(number: int, protocol: str = "TCP") -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(port=number, protocol=protocol)


def policy_spec(
    args: KubernetesNetworkArgs, policy: NetworkPolicySettings
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Ingress: port 8000 from the app's namespace, the configured client namespaces and CIDRs and the
    ingress controller; the metrics port from the scrapers' namespaces. Egress: DNS and the database."""
    peer = k8s.networking.v1.NetworkPolicyPeerArgs
    controller = (policy.ingress_controller_namespace,) if policy.ingress_controller_namespace else ()
    clients = [
        # Pods of the app's own namespace (an empty pod selector without a namespace selector).
        peer(pod_selector=k8s.meta.v1.LabelSelectorArgs()),
        *_from_namespaces(policy.client_namespaces + controller),
        *[peer(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)) for cidr in policy.client_cidrs],
    ]
    ingress = [k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=clients, ports=[_port(SERVICE_PORT)])]
    if policy.metrics_namespaces:
        ingress.append(
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=_from_namespaces(policy.metrics_namespaces), ports=[_port(METRICS_PORT)]
            )
        )
    egress = [
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=_from_namespaces((policy.dns_namespace,)), ports=[_port(DNS_PORT, "UDP"), _port(DNS_PORT)]
        )
    ]
    # The database: its address range when known (databaseCidrs, or the URL's IP); a host name
    # cannot be matched by a NetworkPolicy, so then the database's port on any address.
    database = [peer(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)) for cidr in policy.database_cidrs]
    egress.append(
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=database or None, ports=[_port(policy.database_port)]
        )
    )
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=args.labels),
        policy_types=["Ingress", "Egress"],
        ingress=ingress,
        egress=egress,
    )


class KubernetesNetwork(pulumi.ComponentResource):
    """A NetworkPolicy for every pod of the app (`networkPolicy`), an Ingress to its Service (`ingress`).

    The policy selects the API pods and the migration Job's by the app's labels: the Job needs DNS
    and the database and nothing else either. It takes effect only where the cluster's network
    plugin enforces NetworkPolicies; the API server accepts it either way.
    """

    def __init__(
        self, name: str, args: KubernetesNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservice-model:index:KubernetesNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.network_policy is not None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-policy",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=PROJECT, namespace=args.namespace, labels=args.labels
                ),
                spec=policy_spec(args, args.network_policy),
                opts=child,
            )
        if args.ingress is not None:
            settings = args.ingress
            tls = None
            if settings.tls_secret:
                tls = [
                    k8s.networking.v1.IngressTLSArgs(hosts=[settings.host], secret_name=settings.tls_secret)
                ]
            backend = k8s.networking.v1.IngressBackendArgs(
                service=k8s.networking.v1.IngressServiceBackendArgs(
                    name=args.service_name, port=k8s.networking.v1.ServiceBackendPortArgs(number=PUBLIC_PORT)
                )
            )
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                # Not awaited: the provider would wait for the controller to publish an address in the
                # status, which some controllers never do; the Service behind it is awaited already.
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=PROJECT, namespace=args.namespace, labels=args.labels, annotations=SKIP_AWAIT
                ),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name=settings.class_name,
                    tls=tls,
                    rules=[
                        k8s.networking.v1.IngressRuleArgs(
                            host=settings.host,
                            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                                paths=[
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path="/", path_type="Prefix", backend=backend
                                    )
                                ]
                            ),
                        )
                    ],
                ),
                opts=child,
            )
        self.register_outputs(public_outputs(self))
