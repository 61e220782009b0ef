"""The service on a copy of the shipped config/ and prompts/ (the admin pages write to the
copies), signed-in HTTP clients per role, and form helpers."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.app import Hotline
from hotline.config import load_config
from hotline.web.auth.users import Role, UserStore
from tests.ports import unused_port
from tests.web.support import PASSWORD, ROOT, signed_in

USERS = {"ada": Role.ADMIN, "sam": Role.SUPERVISOR, "1001": Role.AGENT}


@dataclass
class Admin:
    """One running service on copied files, and a signed-in client per role."""

    service: Hotline
    config_dir: Path
    prompts_dir: Path
    url: str
    clients: dict[str, aiohttp.ClientSession]

    @property
    def catalog(self) -> Path:
        return self.prompts_dir / "catalog.yaml"

    async def get(self, path: str, *, as_user: str = "ada") -> tuple[int, str]:
        async with self.clients[as_user].get(self.url + path.lstrip("/")) as response:
            return response.status, (await response.read()).decode("utf-8", "replace")

    async def post(
        self, path: str, form: dict[str, str], *, as_user: str = "ada"
    ) -> tuple[int, str]:
        async with self.clients[as_user].post(self.url + path.lstrip("/"), data=form) as response:
            return response.status, await response.text()

    async def form(self, path: str, form_id: str, *, as_user: str = "ada") -> dict[str, str]:
        """The named form's current fields on the page (hidden ones included)."""
        status, page = await self.get(path, as_user=as_user)
        assert status == 200, page
        return form_fields(page, form_id)


def form_fields(page: str, form_id: str) -> dict[str, str]:
    start = page.index(f'id="{form_id}"')
    html = page[start : page.index("</form>", start)]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="file"' not in tag:
            fields[_unescape(name[1])] = _unescape(value[1]) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[_unescape(name)] = _unescape(body)
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r"<option selected[^>]*>([^<]*)</option>", options)
        fields[_unescape(name)] = _unescape(chosen[1]) if chosen else ""
    return fields


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def error_beside(page: str, field: str) -> str:
    """The text of the error span beside ``field``."""
    ident = re.sub(r"[^A-Za-z0-9_\-]", "-", field)
    match = re.search(rf'<span class="error" id="{re.escape(ident)}-error">([^<]*)</span>', page)
    assert match, f"no error span for {field}"
    import html

    return html.unescape(match[1])


def copy_files(tmp_path: Path) -> tuple[Path, Path]:
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    prompts_dir = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts_dir, symlinks=True)
    return config_dir, prompts_dir


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    config_dir, prompts_dir = copy_files(tmp_path)
    overrides: dict[str, Any] = {
        "fastagi.port": unused_port(),
        "web.port": 0,
        "ami.port": unused_port(),
        "ami.secret": "admin-secret",
        "ami.reconnect_min_s": 0.05,
        "ami.reconnect_max_s": 0.2,
        "database.url": f"sqlite+aiosqlite:///{tmp_path}/hotline.db",
        "database.spool": str(tmp_path / "spool.jsonl"),
        "web.sign_in.two_factor.key_file": str(tmp_path / "secret.keys"),
        "speech.enabled": False,
        "ivr.speech.recordings_dir": str(tmp_path / "recordings"),
        "ivr.prompts.directory": str(prompts_dir),
        "ivr.prompts.catalog": str(prompts_dir / "catalog.yaml"),
    }
    config = load_config(config_dir, environ={}, overrides=overrides)
    service = Hotline(config, config_dir=config_dir, environ={}, overrides=overrides)
    async with asyncio.timeout(10):
        await service.start()
    clients: dict[str, aiohttp.ClientSession] = {}
    try:
        users = UserStore(service.store)
        for name, role in USERS.items():
            await users.add(name, role, PASSWORD)
        url = service.web.url
        for name in USERS:
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            clients[name] = http
            await signed_in(http, url, name)
        yield Admin(service, config_dir, prompts_dir, url, clients)
    finally:
        for http in clients.values():
            await http.close()
        async with asyncio.timeout(10):
            await service.close()
