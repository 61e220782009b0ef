"""A messaging module (a WhatsApp Business provider) through the whole service: it submits
a customer's conversation over the REST API, the one ACD offers it to an agent within their
capacity, the agent answers, and the module hears every step by signed webhook, with no
polling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from acd.workload import TaskPhase
from channels.webhooks.signing import verify
from history.inputs import Status

from .stack import running_stack, wait_until

SECRET = "module-secret-0123456789"


class Receiver:
    """The module's webhook endpoint on 127.0.0.1: checks each signature."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(request.headers["Hotline-Signature"], body, [SECRET])
        self.events.append(json.loads(body))
        return web.Response(status=204)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def test_a_whatsapp_conversation_is_routed_answered_and_told_by_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_TEST_HOOK_SECRET", SECRET)
    async with Receiver() as module:
        hooks = [
            {
                "name": "whatsapp-module",
                "url": f"http://127.0.0.1:{module.port}/hook",
                "secret_env": "HOTLINE_TEST_HOOK_SECRET",
                "events": ["*"],
            }
        ]
        async with running_stack(tmp_path, overrides={"webhooks": hooks}) as stack:
            service = stack.service
            token = await stack.token("history:write:whatsapp", "history:read")
            body = {
                "channel": "whatsapp",
                "identity": {"kind": "whatsapp", "value": "+971501110099"},
                "message": {
                    "direction": "in",
                    "author_kind": "customer",
                    "body": "my internet is not working since this morning",
                    "external_id": "wamid.HBgM1",
                },
            }
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    service.web.url + "api/v1/conversations",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                ) as response,
            ):
                assert response.status == 201, await response.text()
                conversation = (await response.json())["conversation"]["id"]
            desk = service.desk
            await wait_until(lambda: desk.holder(conversation) is not None)
            agent = desk.holder(conversation)
            assert agent is not None
            (held,) = [
                t for t in service.acd.distributor.tasks_of(agent) if t.channel == "whatsapp"
            ]
            assert held.phase is TaskPhase.RESERVED
            await desk.accept(agent, conversation)
            reply = await desk.agent_wrote(agent, conversation, "We see an outage, fixing it")
            desk.finish(agent, conversation, status=Status.RESOLVED)
            await wait_until(lambda: "conversation.resolved" in module.types(), timeout_s=15)
            await desk.flush()
            interaction = await service.history.get_interaction(conversation)
    types = module.types()
    for expected in ("task.created", "task.assigned", "task.completed", "message.created"):
        assert expected in types
    created = next(e for e in module.events if e["type"] == "task.created")
    assert created["data"]["queue"] == "support"  # a technical fault, by its intent
    sent = [e for e in module.events if e["type"] == "message.created"]
    assert [e["data"]["body"] for e in sent] == [body["message"]["body"], reply.body]  # type: ignore[index]
    # the module delivers the agent's reply to WhatsApp: queued until it says how it went
    assert reply.delivery.value == "queued"
    assert (interaction.agent, interaction.outcome, interaction.status) == (
        agent,
        "answered",
        Status.RESOLVED,
    )
    assert interaction.intent is not None
