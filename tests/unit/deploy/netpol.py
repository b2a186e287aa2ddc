"""A small NetworkPolicy evaluator: is a connection allowed by the policies of one namespace?

It follows the Kubernetes semantics for what the manifests use: a pod selected by no policy of
a direction is open in that direction; a selected pod accepts only what some rule of a selecting
policy allows (peers by podSelector, namespaceSelector + podSelector, or ipBlock with except;
ports by number and protocol). Pods outside the namespace (ingress controller, Prometheus, the
OTLP collector) and addresses outside the cluster are governed here only on the piyasa side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or an address outside the cluster."""

    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.ip is None


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


class Policies:
    def __init__(self, namespace: str, documents: Iterable[Mapping[str, Any]]) -> None:
        self.namespace = namespace
        self.policies = [d for d in documents if d["kind"] == "NetworkPolicy"]

    def _selecting(self, pod: Endpoint, direction: str) -> list[Mapping[str, Any]]:
        if not pod.is_pod or pod.namespace != self.namespace:
            return []
        return [
            p
            for p in self.policies
            if direction in p["spec"].get("policyTypes", ["Ingress"])
            and selector_matches(p["spec"]["podSelector"], pod.labels)
        ]

    def _peer_matches(self, peer: Mapping[str, Any], other: Endpoint) -> bool:
        if "ipBlock" in peer:
            if other.is_pod:
                return False
            ip = ipaddress.ip_address(other.ip or "")
            block = peer["ipBlock"]
            network = ipaddress.ip_network(block["cidr"])
            if ip.version != network.version or ip not in network:
                return False
            return not any(
                ip.version == ipaddress.ip_network(e).version and ip in ipaddress.ip_network(e)
                for e in block.get("except", [])
            )
        if not other.is_pod:
            return False
        if "namespaceSelector" in peer:
            namespace_labels = {"kubernetes.io/metadata.name": other.namespace or ""}
            if not selector_matches(peer["namespaceSelector"], namespace_labels):
                return False
        elif other.namespace != self.namespace:
            return False
        return selector_matches(peer.get("podSelector"), other.labels)

    @staticmethod
    def _port_matches(ports: list[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
        if not ports:
            return True
        return any(
            p.get("port") in (None, port) and p.get("protocol", "TCP") == protocol for p in ports
        )

    def _direction_allows(
        self, pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str
    ) -> bool:
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True  # not isolated in this direction
        rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for policy in selecting:
            for rule in policy["spec"].get(rules_key) or []:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(peer, other) for peer in peers):
                    continue
                if self._port_matches(rule.get("ports"), port, protocol):
                    return True
        return False

    def allows(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Both the source's egress and the target's ingress allow `source -> target:port`."""
        return self._direction_allows(
            source, target, port, protocol, "Egress"
        ) and self._direction_allows(target, source, port, protocol, "Ingress")
