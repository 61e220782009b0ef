"""The composed service with e-mail enabled in hotline.yaml: its SMTP server takes a customer's
mail into a task an agent is offered, the agent's reply leaves through the relay, and the
service stops with nothing left running. With e-mail off (the default) no SMTP server
listens. ``check-config`` and ``serve`` say when the relay's password is missing."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from acd.agent_events import Login
from hotline.app import Hotline
from hotline.cli import main
from hotline.config import load_config
from hotline.logs import configure_logging
from tests.center.email.support import NADIA, SUPPORT, Relay, customer_mail, smtp_send
from tests.e2e.stack import wait_until
from tests.hotline.test_app import write_config


def with_email(directory: Path, relay_port: int, **relay: object) -> Path:
    write_config(directory)
    login = "".join(f"    {key}: {value}\n" for key, value in relay.items())
    with (directory / "hotline.yaml").open("a", encoding="utf-8") as hotline:
        hotline.write(
            "email:\n  enabled: true\n  port: 0\n"
            f"  accepted_recipients: [{SUPPORT}]\n  from_address: {SUPPORT}\n"
            "  message_id_domain: mail.hotline.test\n"
            f"  relay:\n    host: 127.0.0.1\n    port: {relay_port}\n    security: none\n{login}"
        )
    (directory / "queues.yaml").write_text("queues:\n  support: {}\n", encoding="utf-8")
    (directory / "agents.yaml").write_text(
        "policy: {wrap_up_s: 0}\ncapacity: {digital: {email: 2}}\nagents:\n  - id: a1\n",
        encoding="utf-8",
    )
    return directory


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Relay, int]]:
    sink = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, loop=loop), "127.0.0.1", 0)
    yield sink, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_mail_to_the_service_becomes_a_task_and_the_reply_leaves_by_the_relay(
    tmp_path: Path, relay: tuple[Relay, int]
) -> None:
    sink, port = relay
    config_dir = with_email(tmp_path / "config", port)
    before = asyncio.all_tasks()
    service = Hotline(load_config(config_dir, environ={}), config_dir=config_dir, environ={})
    async with asyncio.timeout(10):
        await service.start()
    try:
        assert service.email is not None
        service.acd.agent_event(Login("a1"))
        raw = customer_mail("My internet is down", message_id="<svc@example.com>")
        assert (await asyncio.to_thread(smtp_send, service.email.port, raw, NADIA[1]))[0] == 250
        found = await service.conversations.conversation_of_external_id("<svc@example.com>")
        assert found is not None
        await wait_until(lambda: service.desk.holder(found.id) == "a1", 5)
        await service.desk.accept("a1", found.id)
        said = await service.desk.agent_wrote("a1", found.id, "Fixed on our side.")
        [reply] = sink.replies()
        assert reply.message_id == said.external_id
        assert reply.in_reply_to == ("<svc@example.com>",)
    finally:
        async with asyncio.timeout(10):
            await service.close()
    assert asyncio.all_tasks() - before == set()


async def test_with_e_mail_off_no_smtp_server_is_built(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path / "config")
    service = Hotline(load_config(config_dir, environ={}), environ={})
    assert service.email is None
    await service.store.dispose()


def test_check_config_names_the_missing_relay_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = with_email(tmp_path / "config", 587, username="hotline",
                            password_env="HOTLINE_TEST_SMTP_PW", )  # fmt: skip
    (config_dir / "hotline.yaml").write_text(
        (config_dir / "hotline.yaml").read_text().replace("security: none", "security: tls")
    )
    monkeypatch.delenv("HOTLINE_TEST_SMTP_PW", raising=False)
    assert main(["check-config", "--config", str(config_dir)]) == 1
    assert "email.relay.password_env: the environment variable HOTLINE_TEST_SMTP_PW is not set" in (
        capsys.readouterr().err
    )
    assert main(["serve", "--config", str(config_dir)]) == 1  # refused before anything starts
    monkeypatch.setenv("HOTLINE_TEST_SMTP_PW", "s3cret")
    assert main(["check-config", "--config", str(config_dir)]) == 0
    assert "s3cret" not in capsys.readouterr().out


def test_aiosmtpd_says_nothing_at_info_where_logging_is_configured() -> None:
    """aiosmtpd's ``mail.log`` logs every command, customers' addresses in them, at INFO."""
    handler = configure_logging("INFO", stream=io.StringIO())
    try:
        assert logging.getLogger("mail.log").getEffectiveLevel() == logging.WARNING
    finally:
        logging.getLogger().removeHandler(handler)
