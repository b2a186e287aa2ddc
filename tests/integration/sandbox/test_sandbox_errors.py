"""Every failure answers Telegram's exact envelope and description (TELEGRAM.md section 1)."""

from __future__ import annotations

import json

import pytest

from tests.integration.sandbox.sandbox_client import SandboxClient


async def _error(response: object) -> tuple[int, dict[str, object]]:
    import httpx

    assert isinstance(response, httpx.Response)
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert body["ok"] is False
    assert body["error_code"] == response.status_code
    return response.status_code, body


async def test_unknown_token_is_401_unauthorized(tg: SandboxClient) -> None:
    response = await tg.call("123456:AAunknown", "getMe")
    assert response.status_code == 401
    assert response.text == '{"ok":false,"error_code":401,"description":"Unauthorized"}'


async def test_malformed_token_and_foreign_paths_are_404_not_found(tg: SandboxClient) -> None:
    for path in ("/botnocolon/getMe", "/api/v1/getMe", "/bot123:abc/"):
        response = await tg.http.get(path)
        status, body = await _error(response)
        assert (status, body["description"]) == (404, "Not Found"), path


async def test_unknown_method_is_404_method_not_found(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    status, body = await _error(await tg.call(bot, "sendTelepathy"))
    assert (status, body["description"]) == (404, "Not Found: method not found")


async def test_method_names_are_case_insensitive_and_every_transport_works(
    tg: SandboxClient,
) -> None:
    bot = await tg.bot("ayse_bot")
    assert (await tg.ok(bot, "GETME"))["username"] == "ayse_bot"
    by_query = await tg.http.get(f"/bot{bot.token}/getme", params={"x": "1"})
    by_form = await tg.http.post(f"/bot{bot.token}/getMe", data={"x": "1"})
    by_multipart = await tg.http.post(f"/bot{bot.token}/getMe", files={"x": (None, "1")})
    for response in (by_query, by_form, by_multipart):
        assert response.json()["result"]["id"] == bot.id


async def test_send_message_text_errors(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    cases = [
        ({"chat_id": chat, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": chat, "text": "ş" * 16385}, "Bad Request: text is too long"),
        ({"chat_id": chat, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": chat, "text": "   \n "}, "Bad Request: message text is empty"),
        ({"chat_id": chat}, "Bad Request: message text is empty"),
        ({"text": "hi"}, "Bad Request: chat_id is empty"),
        ({"chat_id": -1009999, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": "piyasa", "text": "hi"}, "Bad Request: chat not found"),
        (
            {"chat_id": chat, "text": "hi", "parse_mode": "BBCode"},
            "Bad Request: unsupported parse_mode",
        ),
    ]
    for params, description in cases:
        status, body = await _error(await tg.call(bot, "sendMessage", **params))
        assert (status, body["description"]) == (400, description), params
    # exactly 4096 characters (of any width) is fine
    sent = await tg.ok(bot, "sendMessage", chat_id=chat, text="🙂" * 4096)
    assert sent["text"] == "🙂" * 4096


async def test_keys_come_in_telegrams_order(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    response = await tg.call(bot, "sendMessage", chat_id=chat, text="/start @ali_k")
    body = response.json()
    assert list(body) == ["ok", "result"]
    message = body["result"]
    assert list(message) == ["message_id", "from", "chat", "date", "text", "entities"]
    assert list(message["from"]) == ["id", "is_bot", "first_name", "username"]
    assert list(message["chat"]) == ["id", "title", "type"]
    assert message["entities"][0] == {"offset": 0, "length": 6, "type": "bot_command"}
    failed = (await tg.call(bot, "sendMessage", chat_id=chat)).json()
    assert list(failed) == ["ok", "error_code", "description"]


async def test_reply_errors_and_allow_sending_without_reply(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    ali = await tg.human("Ali", "ali_k")
    chat = await tg.chat(members=[bot.id, ali])
    target = await tg.say(chat, ali, "Dolar/TL bugün 41,2 seviyesinde 💵 sizce?")

    missing = await tg.call(
        bot, "sendMessage", chat_id=chat, text="hi", reply_parameters={"message_id": 999}
    )
    status, body = await _error(missing)
    assert (status, body["description"]) == (400, "Bad Request: message to be replied not found")

    sent = await tg.ok(
        bot,
        "sendMessage",
        chat_id=chat,
        text="hi",
        reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in sent

    bad_quote = await tg.call(
        bot,
        "sendMessage",
        chat_id=chat,
        text="hi",
        reply_parameters={"message_id": target["message_id"], "quote": "Euro/TL"},
    )
    status, body = await _error(bad_quote)
    assert (status, body["description"]) == (400, "Bad Request: QUOTE_TEXT_INVALID")

    good = await tg.ok(
        bot,
        "sendMessage",
        chat_id=chat,
        text="Bence yükselir",
        reply_parameters={"message_id": target["message_id"], "quote": "41,2 seviyesinde"},
    )
    assert good["reply_to_message"]["message_id"] == target["message_id"]
    assert "reply_to_message" not in good["reply_to_message"]
    assert good["quote"] == {"text": "41,2 seviyesinde", "position": 15, "is_manual": True}

    not_object = await tg.call(bot, "sendMessage", chat_id=chat, text="hi", reply_parameters=[1, 2])
    assert not_object.json()["description"] == "Bad Request: object expected as reply parameters"
    no_id = await tg.call(bot, "sendMessage", chat_id=chat, text="hi", reply_parameters={})
    assert no_id.json()["description"] == 'Bad Request: can\'t find field "message_id"'


async def test_bot_not_in_chat_or_kicked_is_403(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    supergroup = await tg.chat(members=[bot.id])
    group = await tg.chat(members=[bot.id], kind="group")

    await tg.http.delete(f"/sandbox/api/chats/{supergroup}/members/{bot.id}")
    await tg.http.delete(f"/sandbox/api/chats/{group}/members/{bot.id}", params={"ban": "1"})

    status, body = await _error(await tg.call(bot, "sendMessage", chat_id=supergroup, text="hi"))
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot is not a member of the supergroup chat",
    )
    status, body = await _error(await tg.call(bot, "sendMessage", chat_id=group, text="hi"))
    assert (status, body["description"]) == (403, "Forbidden: bot was kicked from the group chat")

    await tg.admin(
        "POST", f"/chats/{supergroup}/members", json={"user": bot.id, "status": "kicked"}
    )
    status, body = await _error(
        await tg.call(bot, "sendChatAction", chat_id=supergroup, action="typing")
    )
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot was kicked from the supergroup chat",
    )


async def test_migrated_group_answers_migrate_to_chat_id(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    group = await tg.chat(members=[bot.id], kind="group")
    migrated = await tg.admin("POST", f"/chats/{group}/migrate")
    new_id = migrated["chat"]["chat"]["id"]
    assert str(new_id).startswith("-100")

    response = await tg.call(bot, "sendMessage", chat_id=group, text="hi")
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": new_id},
    }
    sent = await tg.ok(bot, "sendMessage", chat_id=new_id, text="hi")
    assert sent["chat"]["type"] == "supergroup"
    # both service messages reached the bot
    kinds = [
        key
        for update in await tg.updates(bot)
        for key in ("migrate_to_chat_id", "migrate_from_chat_id")
        if key in update["message"]
    ]
    assert kinds == ["migrate_to_chat_id", "migrate_from_chat_id"]


async def test_revoked_token_is_401(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    revoked = await tg.admin("POST", f"/bots/{bot.username}/revoke")
    assert revoked["token"] != bot.token
    response = await tg.call(bot, "getMe")
    assert (response.status_code, response.json()["description"]) == (401, "Unauthorized")
    assert (await tg.ok(revoked["token"], "getMe"))["id"] == bot.id


@pytest.mark.parametrize(
    ("fault", "status", "description", "parameters"),
    [
        (
            {"error_code": 429, "retry_after": 7},
            429,
            "Too Many Requests: retry after 7",
            {"retry_after": 7},
        ),
        ({"error_code": 500}, 500, "Internal Server Error", None),
        (
            {
                "error_code": 403,
                "description": "Forbidden: bot was kicked from the supergroup chat",
            },
            403,
            "Forbidden: bot was kicked from the supergroup chat",
            None,
        ),
    ],
)
async def test_injected_faults_answer_the_next_calls(
    tg: SandboxClient,
    fault: dict[str, object],
    status: int,
    description: str,
    parameters: dict[str, int] | None,
) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    await tg.admin(
        "POST", "/faults", json={"bot": bot.username, "method": "sendmessage", "count": 2, **fault}
    )
    for _ in range(2):
        response = await tg.call(bot, "sendMessage", chat_id=chat, text="hi")
        code, body = await _error(response)
        assert (code, body["description"], body.get("parameters")) == (
            status,
            description,
            parameters,
        )
        if status == 429:
            assert response.headers["retry-after"] == "7"
    assert (await tg.ok(bot, "getMe"))["id"] == bot.id  # other methods untouched
    assert (await tg.ok(bot, "sendMessage", chat_id=chat, text="hi"))["text"] == "hi"


async def test_reaction_errors(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    sent = await tg.ok(bot, "sendMessage", chat_id=chat, text="hi")
    mid = sent["message_id"]
    thumbs = [{"type": "emoji", "emoji": "👍"}]
    cases = [
        ({"message_id": 999, "reaction": thumbs}, "Bad Request: message to react not found"),
        ({"message_id": 0, "reaction": thumbs}, "Bad Request: message to react not found"),
        (
            {"message_id": mid, "reaction": [{"type": "emoji", "emoji": "🦖"}]},
            "Bad Request: REACTION_INVALID",
        ),
        ({"message_id": mid, "reaction": [{"type": "paid"}]}, "Bad Request: REACTION_INVALID"),
        (
            {"message_id": mid, "reaction": {"type": "emoji"}},
            "Bad Request: expected an Array of ReactionType",
        ),
        (
            {"message_id": mid, "reaction": [{"type": "sticker"}]},
            "Bad Request: can't parse ReactionType: invalid reaction type specified",
        ),
    ]
    for params, description in cases:
        status, body = await _error(
            await tg.call(bot, "setMessageReaction", chat_id=chat, **params)
        )
        assert (status, body["description"]) == (400, description), params
    form = await tg.http.post(
        f"/bot{bot.token}/setMessageReaction",
        data={"chat_id": str(chat), "message_id": str(mid), "reaction": "[{"},
    )
    assert form.json()["description"] == "Bad Request: can't parse reaction types JSON object"
    assert await tg.ok(bot, "setMessageReaction", chat_id=chat, message_id=mid, reaction=thumbs)


async def test_lenient_scalars_like_the_reference_server(tg: SandboxClient) -> None:
    bot = await tg.bot("ayse_bot")
    chat = await tg.chat(members=[bot.id])
    sent = await tg.http.post(
        f"/bot{bot.token}/sendMessage",
        content=json.dumps({"chat_id": str(chat), "text": 5}),
        headers={"content-type": "application/json"},
    )
    assert sent.json()["result"]["text"] == "5"
    not_object = await tg.http.post(
        f"/bot{bot.token}/getMe", content="[1]", headers={"content-type": "application/json"}
    )
    assert not_object.json()["description"] == "Bad Request: JSON object expected"
