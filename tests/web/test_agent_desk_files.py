"""The files of a conversation on the agent page: served to the agent the conversation is
with only, a recording as audio the page plays, anything else as a download that is never
rendered; found by the ids in the path, never by a name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from acd.agent_events import Login
from history.attachments import AttachmentData
from history.identities import IdentityKind
from history.inputs import IdentityIn
from tests.web.chat_rig import AgentDesk, Rig, chat_rig

PAGE = AttachmentData("invoice.html", "text/html", b"<script>alert(1)</script>")
SOUND = AttachmentData("message.wav", "audio/x-wav", b"RIFF\x24\x00\x00\x00WAVEfmt ")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with chat_rig(tmp_path) as made:
        yield made


async def get(desk: AgentDesk, path: str) -> tuple[int, dict[str, str], bytes]:
    async with desk.http.get(desk.base + path.lstrip("/")) as response:
        return response.status, dict(response.headers), await response.read()


async def test_a_file_is_served_to_the_agent_holding_the_conversation_only(rig: Rig) -> None:
    rig.acd.agent_event(Login("ann"))
    said = await rig.desk.customer_wrote(
        "chat",
        "here is my bill and what I said",
        identity=IdentityIn(kind=IdentityKind.CHAT, value="visitor-1"),
        attachments=(PAGE, SOUND),
    )
    talk = said.conversation_id
    async with rig.agent("ann") as ann, rig.agent("bob") as bob:
        [card] = (await ann.next("snapshot"))["tasks"]
        [message] = card["thread"]
        page, sound = message["attachments"]
        assert (page["type"], sound["type"]) == ("text/html", "audio/x-wav")
        assert (await ann.post(f"{talk}/accept"))[0] == 200

        status, headers, body = await get(ann, sound["url"])
        assert (status, body) == (200, SOUND.data)
        assert headers["Content-Type"] == "audio/wav"
        assert headers["Content-Disposition"].startswith("inline;")
        status, headers, body = await get(ann, page["url"])
        assert (status, body) == (200, PAGE.data)
        assert headers["Content-Type"] == "application/octet-stream"  # never rendered
        assert headers["Content-Disposition"].startswith("attachment;")
        assert headers["X-Content-Type-Options"] == "nosniff"

        assert (await get(bob, sound["url"]))[0] == 403
        base = f"/page-api/agent/conversations/{talk}/messages/{message['id']}/attachments"
        assert (await get(ann, f"{base}/{page['id'] + sound['id']}"))[0] == 404
        assert (await get(ann, f"{base}/..%2F..%2Fhistory.db"))[0] == 404  # ids only
        other = f"/page-api/agent/conversations/{talk + 1}/messages/{message['id']}"
        assert (await get(ann, f"{other}/attachments/{sound['id']}"))[0] == 403

        status, refused = await ann.post(f"{talk}/callback", {"ref": "r1"})
        assert (status, refused["error"]) == (404, "callbacks are not available here")
        assert (await bob.post(f"{talk}/note", {"text": "not mine"}))[0] == 403
    async with (
        aiohttp.ClientSession() as stranger,
        stranger.get(rig.base + sound["url"].lstrip("/")) as response,
    ):
        assert response.status == 401
