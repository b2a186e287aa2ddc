"""Who may do what: every write route against every role; MFA logins; API keys."""

from __future__ import annotations

import re

import pyotp
import pytest

from piyasa_config.auth.roles import Role

pytestmark = pytest.mark.integration

MINIMUM_ROLE: dict[tuple[str, str], Role | None] = {
    ("POST", "/auth/login"): None,
    ("POST", "/auth/logout"): Role.VIEWER,
    ("POST", "/operators"): Role.ADMIN,
    ("PATCH", "/operators/{operator_id}"): Role.ADMIN,
    ("POST", "/operators/{operator_id}/api-keys"): Role.ADMIN,
    ("DELETE", "/api-keys/{key_id}"): Role.ADMIN,
    ("POST", "/bots"): Role.OPERATOR,
    ("PATCH", "/bots/{bot_id}"): Role.OPERATOR,
    ("DELETE", "/bots/{bot_id}"): Role.OPERATOR,
    ("PUT", "/bots/{bot_id}/persona"): Role.OPERATOR,
    ("PUT", "/bots/{bot_id}/emotion"): Role.OPERATOR,
    ("POST", "/chats"): Role.OPERATOR,
    ("PATCH", "/chats/{chat_id}"): Role.OPERATOR,
    ("DELETE", "/chats/{chat_id}"): Role.OPERATOR,
    ("POST", "/stances"): Role.OPERATOR,
    ("PATCH", "/stances/{stance_id}"): Role.OPERATOR,
    ("DELETE", "/stances/{stance_id}"): Role.OPERATOR,
    ("POST", "/holdings"): Role.OPERATOR,
    ("PATCH", "/holdings/{holding_id}"): Role.OPERATOR,
    ("DELETE", "/holdings/{holding_id}"): Role.OPERATOR,
    ("PUT", "/settings"): Role.OPERATOR,
    ("PATCH", "/settings"): Role.OPERATOR,
    ("POST", "/control/fleet/{action}"): Role.OPERATOR,
    ("POST", "/control/chats/{chat_id}/{action}"): Role.OPERATOR,
    ("POST", "/control/bots/{bot_id}/{action}"): Role.OPERATOR,
    ("POST", "/wizard/{wizard_id}"): Role.OPERATOR,
    ("POST", "/fleet/import"): Role.ADMIN,
    ("POST", "/dead-letters/{seq}/replay"): Role.ADMIN,
    ("DELETE", "/dead-letters/{seq}"): Role.ADMIN,
    ("DELETE", "/dead-letters"): Role.ADMIN,
    ("POST", "/people/{person_id}/erase"): Role.ADMIN,
}
"""Every write route and the least role it needs; the test fails if a route is missing."""

ADMIN_READS = {
    ("GET", "/operators"),
    ("GET", "/operators/{operator_id}/api-keys"),
    ("GET", "/audit"),
}
OPERATOR_READS = {("GET", "/dead-letters"), ("GET", "/dead-letters/{seq}")}

_PARAMS = {
    "seq": "1",
    "action": "pause",
    "operator_id": "op_0000000000000000",
    "key_id": "key_0000000000000000",
}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _PARAMS.get(m.group(1), "x1"), path)


def routes(api) -> list[tuple[str, str]]:
    spec = api.app.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


async def test_every_write_route_has_a_role_in_this_table(shared_api):
    writes = {(m, p) for m, p in routes(shared_api) if m != "GET"}
    assert writes == set(MINIMUM_ROLE)


@pytest.mark.parametrize(("method", "path"), sorted(MINIMUM_ROLE), ids=lambda v: str(v))
async def test_each_role_against_each_write_route(shared_api, method, path):
    api = shared_api
    needed = MINIMUM_ROLE[(method, path)]
    url = concrete(path)
    body = {} if method != "DELETE" else None

    anonymous = await api.client().request(method, url, json=body)
    if needed is None:
        assert anonymous.status_code not in (401, 403), anonymous.text
        return
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["code"] == "unauthenticated"
    for role in Role:
        answer = await api.as_(role).request(method, url, json=body)
        if role.allows(needed):
            assert answer.status_code not in (401, 403), (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.text)
            assert answer.json()["code"] == "forbidden"


async def test_each_role_against_the_restricted_reads(shared_api):
    api = shared_api
    for method, path in sorted(ADMIN_READS | OPERATOR_READS):
        needed = Role.ADMIN if (method, path) in ADMIN_READS else Role.OPERATOR
        for role in Role:
            answer = await api.as_(role).request(method, concrete(path))
            expected_denied = not role.allows(needed)
            assert (answer.status_code == 403) is expected_denied, (path, role, answer.text)


async def test_every_read_route_refuses_anonymous_callers(shared_api):
    api = shared_api
    for method, path in routes(api):
        if method == "GET":
            answer = await api.client().get(concrete(path))
            assert answer.status_code == 401, path


async def test_a_bad_or_revoked_api_key_is_refused(api):
    bad = await api.client({"X-API-Key": "pk_not-a-key"}).get("/bots")
    assert bad.status_code == 401
    issued = await api.admin.post(
        f"/operators/{api.operator_ids[Role.VIEWER]}/api-keys", json={"name": "laptop"}
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["key"]
    assert (await api.client({"X-API-Key": key}).get("/bots")).status_code == 200

    assert (await api.admin.delete(f"/api-keys/{issued.json()['id']}")).status_code == 204

    assert (await api.client({"X-API-Key": key}).get("/bots")).status_code == 401


async def test_login_needs_password_and_a_fresh_totp_code(api):
    created = await api.admin.post(
        "/operators",
        json={"username": "ayse", "role": "operator", "password": "correct horse battery"},
    )
    assert created.status_code == 201, created.text
    uri = created.json()["totp_uri"]
    totp = pyotp.parse_uri(uri)
    assert uri.startswith("otpauth://totp/")
    anonymous = api.client()

    no_code = await anonymous.post(
        "/auth/login", json={"username": "ayse", "password": "correct horse battery"}
    )
    wrong_password = await anonymous.post(
        "/auth/login", json={"username": "ayse", "password": "nope", "otp": totp.now()}
    )
    wrong_code = await anonymous.post(
        "/auth/login",
        json={"username": "ayse", "password": "correct horse battery", "otp": "000000"},
    )
    unknown_user = await anonymous.post(
        "/auth/login", json={"username": "nobody", "password": "x", "otp": "123456"}
    )
    assert [r.status_code for r in (no_code, wrong_password, unknown_user)] == [401, 401, 401]
    assert wrong_code.status_code == 401 or totp.now() == "000000"

    code = totp.now()
    ok = await anonymous.post(
        "/auth/login", json={"username": "ayse", "password": "correct horse battery", "otp": code}
    )
    assert ok.status_code == 200, ok.text
    token = ok.json()["access_token"]
    session = api.client({"Authorization": f"Bearer {token}"})
    me = await session.get("/auth/me")
    assert me.json()["username"] == "ayse"
    assert me.json()["role"] == "operator"
    assert (await session.post("/bots", json={"name": "by login"})).status_code == 201
    assert (
        await session.post("/operators", json={"username": "x", "role": "admin"})
    ).status_code == 403

    replayed = await anonymous.post(
        "/auth/login", json={"username": "ayse", "password": "correct horse battery", "otp": code}
    )
    assert replayed.status_code == 401  # a code works once

    assert (await session.post("/auth/logout")).status_code == 204
    assert (await session.get("/auth/me")).status_code == 401


async def test_a_disabled_operator_loses_access(api):
    viewer = api.operator_ids[Role.VIEWER]
    assert (await api.viewer.get("/bots")).status_code == 200
    patched = await api.admin.patch(f"/operators/{viewer}", json={"disabled": True})
    assert patched.status_code == 200, patched.text
    assert (await api.viewer.get("/bots")).status_code == 401


async def test_writes_are_rate_limited_per_key(nats_url, prefix, fresh_database):
    from tests.integration.config.conftest import config_settings, start_api

    api = await start_api(
        config_settings(nats_url, prefix, fresh_database, write_rate_per_minute=3)
    )
    try:
        answers = [await api.operator.post("/bots", json={"name": f"b{i}"}) for i in range(5)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert answers[-1].json()["code"] == "rate_limited"
        # Another key has its own budget; reads are not limited.
        assert (await api.admin.post("/bots", json={"name": "admin's"})).status_code == 201
        assert (await api.operator.get("/bots")).status_code == 200
    finally:
        await api.close()
        await api.engine.dispose()
        await api.nc.close()
