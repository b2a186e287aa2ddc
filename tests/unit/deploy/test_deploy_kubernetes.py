"""The Kubernetes manifests: schema-valid, locked down, probed, scaled, fenced, and in step with
the code (stream and consumer names, the secrets bucket, the partition count).

Each check runs on the base files read directly and, when kubectl is installed, on the dev and
prod overlays rendered by `kubectl kustomize`. Built-in kinds go through kubernetes-validate
--strict; the custom resources (which it only warns about) through crd_schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from piyasa_contracts import Bucket, StreamRole, Topology
from tests.unit.deploy.crd_schemas import VALIDATORS
from tests.unit.deploy.netpol import Endpoint, Policies
from tests.unit.deploy.tools import (
    AUTOSCALED,
    DATABASE_CLIENTS,
    K8S,
    KUBERNETES_VERSION,
    OVERLAYS,
    PROMETHEUS,
    ROOT,
    SERVICES,
    base_documents,
    by_kind,
    load_yaml_documents,
    rendered_overlay,
)

SOURCES = ("base", *OVERLAYS)
SECRETS = {
    "piyasa-nats-users",
    "piyasa-database",
    "piyasa-fernet",
    "piyasa-llm-providers",
    "piyasa-dispatcher",
}
"""Every Secret the manifests reference; docs/operations.md tells how to create each."""


@dataclass(frozen=True)
class Manifests:
    source: str
    docs: tuple[dict[str, Any], ...]

    @property
    def namespace(self) -> str:
        return {"dev": "piyasa-dev"}.get(self.source, "piyasa")

    def kind(self, kind: str) -> dict[str, Any]:
        return by_kind(self.docs, kind)

    @cached_property
    def backbone(self) -> dict[str, str]:
        return self.kind("ConfigMap")["piyasa-backbone"]["data"]  # type: ignore[no-any-return]

    def nats_file(self, name: str) -> str:
        if self.source == "base":
            return (K8S / "base" / "nats" / name).read_text(encoding="utf-8")
        (config,) = [d for n, d in self.kind("ConfigMap").items() if n.startswith("nats-config")]
        return config["data"][name]  # type: ignore[no-any-return]

    def deployment(self, name: str) -> dict[str, Any]:
        return self.kind("Deployment")[name]  # type: ignore[no-any-return]

    def pod_templates(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for doc in self.docs:
            if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
                out.append((doc["metadata"]["name"], doc["spec"]["template"]))
            elif doc["kind"] == "CronJob":
                out.append(
                    (doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"])
                )
        return out


@pytest.fixture(scope="module", params=SOURCES)
def manifests(request: pytest.FixtureRequest) -> Manifests:
    if request.param == "base":
        return Manifests("base", tuple(doc for _, doc in base_documents()))
    return Manifests(request.param, rendered_overlay(request.param))


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    return main  # type: ignore[no-any-return]


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env") or []}


# --- schema validation --------------------------------------------------------------------


def validate(doc: dict[str, Any]) -> None:
    """kubernetes-validate --strict for built-in kinds, our schema for custom resources."""
    kind = doc["kind"]
    if kind in VALIDATORS:
        VALIDATORS[kind].validate(doc)
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except SchemaNotFoundError:
        pytest.fail(f"{kind} has no schema: add one to crd_schemas.py")


def overlay_resource_files() -> list[str]:
    """Whole manifests the overlays add (their patches are partial by nature)."""
    files = []
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load(
            (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        )
        files += [
            f"overlays/{overlay}/{r}" for r in kustomization["resources"] if r.endswith(".yaml")
        ]
    return files


@pytest.mark.parametrize(
    "path", [p.relative_to(K8S).as_posix() for p in sorted({p for p, _ in base_documents()})]
)
def test_base_file_passes_strict_validation(path: str) -> None:
    for doc in load_yaml_documents(K8S / path):
        validate(doc)


@pytest.mark.parametrize("path", overlay_resource_files())
def test_overlay_resource_file_passes_strict_validation(path: str) -> None:
    for doc in load_yaml_documents(K8S / path):
        validate(doc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_passes_strict_validation(overlay: str) -> None:
    for doc in rendered_overlay(overlay):
        validate(doc)


@pytest.mark.parametrize(
    ("kind", "mistake"),
    [
        ("ScaledObject", lambda d: d["spec"].update(maxReplicas=4)),
        ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].update(lagThreshold=20)),
        ("ScaledObject", lambda d: d["spec"]["triggers"][0]["metadata"].pop("consumer")),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(intervall="15s")),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(interval="often")),
        ("PrometheusRule", lambda d: d["spec"]["groups"][1]["rules"][0].update(fore="5m")),
        ("PrometheusRule", lambda d: d["spec"]["groups"][1]["rules"][0].pop("expr")),
    ],
)
def test_custom_resource_schemas_catch_mistakes(kind: str, mistake: Any) -> None:
    doc = yaml.safe_load(yaml.safe_dump(next(d for _, d in base_documents() if d["kind"] == kind)))
    validate(doc)
    mistake(doc)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATORS[kind].validate(doc)


# --- services ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_probed_on_its_health_endpoints(manifests: Manifests, service: str) -> None:
    c = container(manifests.deployment(service))
    assert c["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/health/live"
    (port,) = c["ports"]
    assert (port["name"], port["containerPort"]) == (
        "http",
        int(manifests.backbone["PIYASA_HTTP_PORT"]),
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_drains_before_it_is_killed(manifests: Manifests, service: str) -> None:
    deployment = manifests.deployment(service)
    spec = deployment["spec"]
    pre_stop = container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(manifests.backbone["PIYASA_DRAIN_GRACE_S"])
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= pre_stop + drain + 10
    assert pre_stop >= 3, "long enough for the endpoint to leave the Service"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("service", SERVICES)
def test_service_connects_as_its_own_nats_user(manifests: Manifests, service: str) -> None:
    c = container(manifests.deployment(service))
    env = env_of(c)
    password = env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": "piyasa-nats-users", "key": f"NATS_{service.upper()}_PASSWORD"}
    assert env["NATS_URL"]["value"] == f"nats://{service}:$(NATS_PASSWORD)@nats:4222"
    assert env["PIYASA_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert {"configMapRef": {"name": "piyasa-backbone"}} in c["envFrom"]
    account = manifests.deployment(service)["spec"]["template"]["spec"]["serviceAccountName"]
    assert account in manifests.kind("ServiceAccount")


@pytest.mark.parametrize("service", SERVICES)
def test_only_database_clients_get_the_database(manifests: Manifests, service: str) -> None:
    deployment = manifests.deployment(service)
    c = container(deployment)
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    from_secret = "DATABASE_URL" in env_of(c)
    from_vault = "vault.hashicorp.com/agent-inject-secret-database" in annotations
    assert (from_secret or from_vault) == (service in DATABASE_CLIENTS)


def test_every_workload_is_locked_down(manifests: Manifests) -> None:
    for name, template in manifests.pod_templates():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is not None, name
        for c in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name}/{c['name']}"
            security = c["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert "memory" in c["resources"]["limits"], where


@pytest.mark.parametrize("service", SERVICES)
def test_service_metrics_are_served_and_scraped(manifests: Manifests, service: str) -> None:
    svc = manifests.kind("Service")[service]
    (port,) = svc["spec"]["ports"]
    assert port["name"] == "http" and port["targetPort"] == "http"
    template = manifests.deployment(service)["spec"]["template"]
    assert svc["spec"]["selector"].items() <= template["metadata"]["labels"].items()

    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == manifests.backbone["PIYASA_HTTP_PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"

    monitor = manifests.kind("ServiceMonitor")["piyasa-services"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert monitor["jobLabel"] == "app.kubernetes.io/name"
    assert svc["metadata"]["labels"]["app.kubernetes.io/name"] == service
    assert [e["port"] for e in monitor["endpoints"]] == ["http"]


def test_every_workload_has_a_disruption_budget(manifests: Manifests) -> None:
    budgets = list(manifests.kind("PodDisruptionBudget").values())
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in manifests.kind(kind).items():
            if name in ("postgres", "sandbox"):
                continue  # single-instance by design: a budget would block every node drain
            labels = workload["spec"]["template"]["metadata"]["labels"]
            matching = [
                b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
            ]
            assert len(matching) == 1, name
            assert matching[0]["spec"]["maxUnavailable"] == 1, name


# --- autoscaling ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_lag_autoscaling_owns_the_replica_count(manifests: Manifests, service: str) -> None:
    scaled = manifests.kind("ScaledObject")
    deployment = manifests.deployment(service)
    if service in AUTOSCALED:
        spec = scaled[service]["spec"]
        assert spec["scaleTargetRef"]["name"] == service
        assert "replicas" not in deployment["spec"], "a fixed count would fight the autoscaler"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    else:
        assert service not in scaled
        assert deployment["spec"]["replicas"] >= 1


@pytest.mark.parametrize("service", ["generator", "guard"])
def test_shared_consumers_scale_on_their_jetstream_lag(manifests: Manifests, service: str) -> None:
    topology = Topology(prefix=manifests.backbone["PIYASA_NAME_PREFIX"])
    (trigger,) = manifests.kind("ScaledObject")[service]["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    assert meta["stream"] == topology.stream(topology.consumer_spec(service).stream)
    assert meta["stream"] == topology.stream(StreamRole.WORK)
    assert meta["consumer"] == topology.durable_name(topology.consumer_spec(service))
    assert (
        meta["natsServerMonitoringEndpoint"] == f"nats.{manifests.namespace}.svc.cluster.local:8222"
    )
    assert f"\n  {meta['account']}: {{" in manifests.nats_file("accounts.conf")


def test_dispatcher_scales_on_its_partitions_lag_never_past_the_partitions(
    manifests: Manifests,
) -> None:
    spec = manifests.kind("ScaledObject")["dispatcher"]["spec"]
    assert spec["maxReplicaCount"] <= int(manifests.backbone["PIYASA_PARTITIONS"])
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert f'namespace="{manifests.namespace}"' in query
    assert 'consumer="dispatcher"' in query
    record = re.match(r"sum\(([\w:]+)\{", query)
    assert record is not None
    recorded = {
        rule.get("record")
        for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert record[1] in recorded
    assert Topology().consumer_spec("dispatcher").partitioned


# --- NATS and its permissions -----------------------------------------------------------------


def test_only_config_and_dispatcher_may_read_the_secrets_bucket(manifests: Manifests) -> None:
    accounts = manifests.nats_file("accounts.conf")
    topology = Topology(prefix=manifests.backbone["PIYASA_NAME_PREFIX"])
    bucket = topology.bucket(Bucket.SECRETS)
    piyasa_account = accounts[accounts.index("PIYASA: {") : accounts.index("SYS: {")]
    users = dict(re.findall(r"\{ user: (\w+),\s+password: \$\w+(.*?)\}", piyasa_account))
    assert set(users) == {*SERVICES, "ops"}
    for user, rest in users.items():
        restricted = "permissions: $NO_SECRETS" in rest
        assert restricted == (user not in ("config", "dispatcher", "ops")), user
    for subject in (
        f"$KV.{bucket}.>",
        f"$JS.API.DIRECT.GET.KV_{bucket}.>",
        f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
        f"$JS.API.CONSUMER.CREATE.KV_{bucket}.>",
    ):
        assert f'"{subject}"' in accounts


def test_nats_passwords_come_from_one_secret_per_user(manifests: Manifests) -> None:
    accounts = manifests.nats_file("accounts.conf")
    variables = set(re.findall(r"password: \$(\w+)", accounts))
    for service in SERVICES:
        assert f"NATS_{service.upper()}_PASSWORD" in variables
    nats = manifests.kind("StatefulSet")["nats"]["spec"]["template"]["spec"]
    (server,) = [c for c in nats["containers"] if c["name"] == "nats"]
    assert {"secretRef": {"name": "piyasa-nats-users"}} in server["envFrom"]


def test_nats_cluster_matches_stream_replicas(manifests: Manifests) -> None:
    nats = manifests.kind("StatefulSet")["nats"]
    replicas = nats["spec"]["replicas"]
    routes = re.findall(r"nats://nats-\d+\.nats-headless:6222", manifests.nats_file("nats.conf"))
    assert len(routes) == (replicas if replicas > 1 else 0)
    assert int(manifests.backbone["PIYASA_STREAM_REPLICAS"]) <= replicas
    assert "include accounts.conf" in manifests.nats_file("nats.conf")
    volumes = nats["spec"]["template"]["spec"]["volumes"]
    (config,) = [v for v in volumes if v["name"] == "config"]
    assert config["configMap"]["name"].startswith("nats-config")
    assert nats["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    containers = {c["name"] for c in nats["spec"]["template"]["spec"]["containers"]}
    assert containers == {"nats", "exporter"}


def test_postgres_reference_has_pgvector(manifests: Manifests) -> None:
    postgres = manifests.kind("StatefulSet")["postgres"]["spec"]
    (c,) = postgres["template"]["spec"]["containers"]
    assert c["image"].startswith("pgvector/pgvector:")
    password = env_of(c)["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password["name"] == "piyasa-database"
    assert postgres["volumeClaimTemplates"]


# --- network policies -----------------------------------------------------------------------

PUBLIC_IP = "104.18.33.45"
TELEGRAM_IP = "149.154.167.220"
OUTSIDE = {
    "ingress": Endpoint(
        "ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
    ),
    "prometheus": Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "keda": Endpoint("keda-operator", "keda", {"app": "keda-operator"}),
    "otel": Endpoint(
        "collector", "observability", {"app.kubernetes.io/name": "opentelemetry-collector"}
    ),
    "dns": Endpoint("coredns", "kube-system", {"k8s-app": "kube-dns"}),
    "vault": Endpoint("vault", "vault", {"app.kubernetes.io/name": "vault"}),
    "internet": Endpoint("internet", ip=PUBLIC_IP),
    "telegram": Endpoint("telegram", ip=TELEGRAM_IP),
    "private": Endpoint("private", ip="10.20.30.40"),
    "metadata": Endpoint("cloud-metadata", ip="169.254.169.254"),
}


def pods(manifests: Manifests) -> dict[str, Endpoint]:
    return {
        template["metadata"]["labels"]["app.kubernetes.io/name"]: Endpoint(
            name, manifests.namespace, template["metadata"]["labels"]
        )
        for name, template in manifests.pod_templates()
    }


def paths(manifests: Manifests) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """(allowed, denied) as (source, target, port); names are pod names or OUTSIDE keys."""
    allowed = [(s, "nats", 4222) for s in (*SERVICES, "backup")]
    allowed += [(s, "postgres", 5432) for s in (*DATABASE_CLIENTS, "migrate", "backup")]
    allowed += [(s, "otel", 4318) for s in (*SERVICES, "migrate", "backup")]
    allowed += [("generator", "internet", 443), ("dispatcher", "telegram", 443)]
    allowed += [("ingress", "config", 8080), ("ingress", "dispatcher", 8080)]
    allowed += [("prometheus", s, 8080) for s in SERVICES]
    allowed += [("prometheus", "nats", 7777), ("keda", "nats", 8222), ("nats", "nats", 6222)]

    denied = [(s, "postgres", 5432) for s in SERVICES if s not in DATABASE_CLIENTS]
    denied += [(s, "internet", 443) for s in SERVICES if s != "generator"]
    denied += [("generator", "private", 443), ("generator", "metadata", 80)]
    denied += [
        ("generator", "telegram", 80),
        ("migrate", "nats", 4222),
        ("migrate", "internet", 443),
        ("backup", "internet", 443),
    ]
    denied += [("ingress", s, 8080) for s in SERVICES if s not in ("config", "dispatcher")]
    denied += [("ingress", "nats", 4222), ("ingress", "postgres", 5432)]
    denied += [("prometheus", "postgres", 5432), ("keda", "nats", 4222)]
    denied += [(s, "generator", 8080) for s in SERVICES if s != "generator"]

    if manifests.source == "dev":
        allowed += [("dispatcher", "sandbox", 8081), ("sandbox", "dispatcher", 8080)]
        denied += [("generator", "sandbox", 8081), ("sandbox", "internet", 443)]
    if manifests.source == "prod":
        vault_clients = ("config", "generator", "dispatcher", "projector", "migrate", "backup")
        allowed += [(s, "vault", 8200) for s in vault_clients]
        denied += [(s, "vault", 8200) for s in ("scheduler", "guard")]
    return allowed, denied


def test_network_policies_open_exactly_the_expected_paths(manifests: Manifests) -> None:
    policies = Policies(manifests.namespace, manifests.docs)
    endpoints = {**OUTSIDE, **pods(manifests)}
    allowed, denied = paths(manifests)
    for source, target, port in allowed:
        path = (source, target, port)
        assert policies.allows(endpoints[source], endpoints[target], port), path
    for source, target, port in denied:
        path = (source, target, port)
        assert not policies.allows(endpoints[source], endpoints[target], port), path
    for name in pods(manifests):
        assert policies.allows(endpoints[name], OUTSIDE["dns"], 53, "UDP"), name


def test_every_pod_is_isolated_by_default(manifests: Manifests) -> None:
    deny = manifests.kind("NetworkPolicy")["default-deny-all"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


# --- secrets -------------------------------------------------------------------------------


def referenced_secrets(manifests: Manifests) -> set[str]:
    found = set()
    for _, template in manifests.pod_templates():
        pod = template["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            for source in c.get("envFrom") or []:
                if "secretRef" in source:
                    found.add(source["secretRef"]["name"])
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    found.add(ref["name"])
        for volume in pod.get("volumes") or []:
            if "secret" in volume:
                found.add(volume["secret"]["secretName"])
    return found


def test_no_secret_value_is_committed(manifests: Manifests) -> None:
    assert not manifests.kind("Secret"), "Secrets are created in the cluster, never committed"
    assert referenced_secrets(manifests) <= SECRETS
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for secret in referenced_secrets(manifests):
        assert secret in operations, f"docs/operations.md does not say how to create {secret}"


@pytest.mark.parametrize("service", ["config", "dispatcher"])
def test_fernet_keys_reach_config_and_dispatcher_from_env_or_files(
    manifests: Manifests, service: str
) -> None:
    deployment = manifests.deployment(service)
    env = env_of(container(deployment))
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if manifests.source == "prod":
        # Mounted files rendered by the Vault agent; nothing secret in the pod spec.
        assert env["PIYASA_FERNET_KEYS_FILE"]["value"] == "/vault/secrets/fernet-keys"
        assert "PIYASA_FERNET_KEYS" not in env and "DATABASE_URL" not in env
        assert annotations["vault.hashicorp.com/agent-inject"] == "true"
        assert "vault.hashicorp.com/agent-inject-template-fernet-keys" in annotations
        command = container(deployment)["command"]
        assert command[-1].endswith(f"exec python -m piyasa_{service}.main")
    else:
        secret = env["PIYASA_FERNET_KEYS"]["valueFrom"]["secretKeyRef"]
        assert secret["name"] == "piyasa-fernet"


def test_fernet_keys_reach_no_other_service(manifests: Manifests) -> None:
    for service in SERVICES:
        if service in ("config", "dispatcher"):
            continue
        deployment = manifests.deployment(service)
        env = env_of(container(deployment))
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert not {"PIYASA_FERNET_KEYS", "PIYASA_FERNET_KEYS_FILE"} & set(env), service
        assert "vault.hashicorp.com/agent-inject-secret-fernet-keys" not in annotations, service


def test_provider_keys_reach_only_the_generator(manifests: Manifests) -> None:
    for service in SERVICES:
        deployment = manifests.deployment(service)
        sources = container(deployment).get("envFrom") or []
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        has_keys = {"secretRef": {"name": "piyasa-llm-providers", "optional": True}} in sources or (
            "vault.hashicorp.com/agent-inject-secret-llm-providers" in annotations
        )
        assert has_keys == (service == "generator"), service


# --- monitoring, jobs ------------------------------------------------------------------------


def test_prometheus_rule_embeds_alerts_yml(manifests: Manifests) -> None:
    rule = manifests.kind("PrometheusRule")["piyasa"]
    alerts = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    assert rule["spec"]["groups"] == alerts["groups"], (
        "run `python deploy/prometheus/sync_prometheusrule.py` after editing alerts.yml"
    )


def test_dashboards_ship_as_a_configmap_for_grafana(manifests: Manifests) -> None:
    if manifests.source == "base":
        pytest.skip("generated by deploy/grafana/kustomization.yaml: checked on the overlays")
    config_map = manifests.kind("ConfigMap")["piyasa-grafana-dashboards"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    for name in ("overview.json", "consumers.json"):
        on_disk = (ROOT / "deploy" / "grafana" / "dashboards" / name).read_text(encoding="utf-8")
        assert config_map["data"][name] == on_disk


def test_migrations_run_as_a_job_with_both_schema_owners(manifests: Manifests) -> None:
    job = manifests.kind("Job")["piyasa-migrate"]["spec"]
    pod = job["template"]["spec"]
    commands = [" ".join(c["command"]) for c in pod["initContainers"] + pod["containers"]]
    assert any("piyasa_config.schema import migrate" in c for c in commands)
    assert any("piyasa_projector.schema import migrate" in c for c in commands)
    assert pod["restartPolicy"] == "Never"
    assert job["backoffLimit"] >= 1 and job["activeDeadlineSeconds"] > 0


def test_backup_runs_daily_one_at_a_time_onto_its_volume(manifests: Manifests) -> None:
    cron = manifests.kind("CronJob")["piyasa-backup"]["spec"]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", cron["schedule"])
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]
    (c,) = pod["spec"]["containers"]
    env = env_of(c)
    if manifests.source == "prod":
        # The database URL comes from the Vault agent's file, as for the migration Job.
        assert c["command"][-1] == ". /vault/secrets/database && exec piyasa backup"
        assert "DATABASE_URL" not in env
        annotations = pod["metadata"]["annotations"]
        assert annotations["vault.hashicorp.com/role"] == "piyasa-ops"
        assert "vault.hashicorp.com/agent-inject-secret-database" in annotations
    else:
        assert c["command"] == ["piyasa", "backup"]
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "piyasa-database"
    assert env["NATS_URL"]["value"] == "nats://ops:$(NATS_PASSWORD)@nats:4222"
    assert int(env["PIYASA_BACKUP_KEEP"]["value"]) >= 7
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    claim = volumes[mounts[env["PIYASA_BACKUP_DIR"]["value"]]]["persistentVolumeClaim"]
    assert claim["claimName"] in manifests.kind("PersistentVolumeClaim")
    assert pod["spec"]["securityContext"]["fsGroup"] == pod["spec"]["securityContext"]["runAsUser"]


# --- overlays ------------------------------------------------------------------------------


def test_dev_posts_to_the_sandbox_and_keeps_one_stream_replica() -> None:
    dev = Manifests("dev", rendered_overlay("dev"))
    assert dev.backbone["TELEGRAM_API_BASE"] == "http://sandbox:8081"
    assert dev.backbone["PIYASA_TELEGRAM_LIVE"] == "false"
    assert dev.backbone["TELEGRAM_SANDBOX_ADMIN"] == "http://sandbox:8081/sandbox/api"
    assert dev.backbone["PIYASA_STREAM_REPLICAS"] == "1"
    assert "sandbox" in dev.kind("Deployment")
    for doc in dev.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "piyasa-dev", doc["metadata"]["name"]


def test_prod_posts_to_telegram_with_three_stream_replicas() -> None:
    prod = Manifests("prod", rendered_overlay("prod"))
    assert prod.backbone["TELEGRAM_API_BASE"] == "https://api.telegram.org"
    assert prod.backbone["PIYASA_TELEGRAM_LIVE"] == "true"
    assert prod.backbone["PIYASA_DISPATCHER_WEBHOOK_URL"].startswith("https://")
    assert prod.backbone["PIYASA_STREAM_REPLICAS"] == "3"
    assert "sandbox" not in prod.kind("Deployment")
    images = {container(d)["image"] for d in prod.kind("Deployment").values()}
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+/piyasa-\w+:[\w.-]+", image) for image in images)
    ingress = prod.kind("Ingress")["piyasa"]["spec"]
    backends = {
        p["backend"]["service"]["name"] for r in ingress["rules"] for p in r["http"]["paths"]
    }
    assert backends == {"config", "dispatcher"}
