"""Alerting rules, their unit tests, the Prometheus config and the Grafana dashboards.

promtool checks the rules and the config and runs alerts_test.yml; every PromQL expression of
the dashboards is parsed by promtool too; and every metric they name must exist in the code,
come from NATS' exporter, or be a recording rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.tools import DASHBOARDS, DEPLOY, PROMETHEUS, ROOT, promtool, run

ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts_test.yml"
PRODUCT_DIRS = ("contracts", "libs", "services", "sandbox", "cli")

REQUIRED_ALERTS = {
    "PiyasaServiceNotReady": "a service not ready",
    "PiyasaConsumerLagGrowing": "consumer lag growing",
    "PiyasaDeadLetters": "dead letters appearing",
    "PiyasaLLMBreakerOpen": "LLM provider breaker open",
    "PiyasaTelegram429Rate": "Telegram 429 rate above a threshold",
    "PiyasaChatSilent": "no message in a chat for longer than its pace allows",
}

EXTERNAL = {
    "up",
    # prometheus-nats-exporter -jsz=all
    "jetstream_consumer_num_pending",
    "jetstream_consumer_num_ack_pending",
    "jetstream_consumer_num_redelivered",
    "jetstream_stream_total_messages",
}
FUNCTIONS = {
    "histogram_quantile",
    "label_replace",
    "clamp_min",
    "clamp_max",
    "group_left",
    "group_right",
    "count_over_time",
    "max_over_time",
    "min_over_time",
}


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_rules_pass_promtool_check() -> None:
    result = run([promtool(), "check", "rules", str(ALERTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_behaves_as_its_unit_tests_say() -> None:
    result = run([promtool(), "test", "rules", str(ALERT_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_prometheus_config_passes_promtool_check() -> None:
    result = run([promtool(), "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["alerts.yml"]
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts == fired


def test_the_alerts_the_operators_need_exist_and_say_what_to_do() -> None:
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(REQUIRED_ALERTS) <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("page", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


# --- dashboards ------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def targets(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboards_are_well_formed_grafana_json() -> None:
    boards = dashboards()
    assert set(boards) == {"overview", "consumers"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            position = panel["gridPos"]
            assert position["x"] + position["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                for variable in re.findall(r"\$(\w+)", target["expr"]):
                    assert variable in variables, (name, panel["title"], variable)


def test_dashboards_show_what_the_operators_asked_for() -> None:
    overview = " ".join(targets(dashboards()["overview"]))
    for needle in (
        "piyasa_dispatcher_messages_sent_total",  # messages per minute per chat
        "histogram_quantile(0.5, sum by (le) (rate(piyasa_llm_latency_seconds_bucket",
        "histogram_quantile(0.95, sum by (le) (rate(piyasa_llm_latency_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(piyasa_llm_latency_seconds_bucket",
        "sum by (reason) (rate(piyasa_guard_rejections_total",
        'piyasa_telegram_calls_total{outcome!="ok"}',
        'piyasa_telegram_calls_total{outcome="429"}',
        "piyasa_dispatcher_retry_after_seconds_total",
        "piyasa_llm_tokens_total",
        "piyasa_llm_cost_usd_total",
    ):
        assert needle in overview, needle
    consumers = " ".join(targets(dashboards()["consumers"]))
    for needle in (
        "piyasa:consumer_pending:sum",
        "piyasa_consumer_lag",
        "jetstream_consumer_num_redelivered",
        'outcome="nak"',
        "piyasa_dead_letters_total",
    ):
        assert needle in consumers, needle


def test_grafana_provisioning_loads_the_dashboards_and_prometheus() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert {d["uid"] for d in datasources["datasources"]} >= {"prometheus", "jaeger"}
    providers = yaml.safe_load((provisioning / "dashboards" / "piyasa.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    exprs = [e for board in dashboards().values() for e in targets(board)]
    rule_file = tmp_path / "dashboards.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboards",
                        "rules": [
                            {"record": f"dashboard:query_{i}", "expr": e.replace("$provider", ".*")}
                            for i, e in enumerate(exprs)
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = run([promtool(), "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- metric names ----------------------------------------------------------------------------


def defined_metrics() -> set[str]:
    """Every metric the product code registers, with a histogram's series suffixes."""
    names: set[str] = set()
    pattern = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][\w:]*)\"")
    for directory in PRODUCT_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            for kind, name in pattern.findall(path.read_text(encoding="utf-8")):
                names.add(name)
                if kind in ("Histogram", "Summary"):
                    names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a heuristic good for our queries)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values and regexes
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    tokens = set(re.findall(r"[a-zA-Z_:][\w:]*", expr))
    return {t for t in tokens if ("_" in t or ":" in t or t == "up") and t not in FUNCTIONS}


def used_metrics() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_names(str(rule["expr"])):
            used.setdefault(name, set()).add(rule.get("alert") or rule["record"])
    for board_name, board in dashboards().items():
        for expr in targets(board):
            for name in metric_names(expr):
                used.setdefault(name, set()).add(f"dashboard {board_name}")
    return used


def test_every_metric_used_exists() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known = defined_metrics() | EXTERNAL | recorded
    unknown = {name: where for name, where in used_metrics().items() if name not in known}
    assert not unknown, f"metrics used but defined nowhere: {unknown}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.95, sum by (le) (rate(a_b_bucket{x="y_z"}[5m])))',
            {"a_b_bucket"},
        ),
        ("sum by (consumer_name) (c_d) / on (chat_id) e_f offset 10m", {"c_d", "e_f"}),
        ('label_replace(g_h, "a_b", "$1", "c_d", "(.*)")', {"g_h"}),
    ],
)
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
