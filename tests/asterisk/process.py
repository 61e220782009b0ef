"""hotline as its own process (``hotline serve``), for what only a process can show:
being killed mid-call. The same settings as tests/asterisk/service.py, given as ``--set``
(the AMI secret from the environment, as deployed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from tests.ports import unused_port

from .rig import AMI_SECRET, ROOT, Asterisk
from .service import rig_settings


class HotlineProcess:
    def __init__(
        self, pbx: Asterisk, tmp_path: Path, overrides: Mapping[str, object] | None = None
    ) -> None:
        self.web_port = unused_port()
        self.settings = {
            **rig_settings(pbx, tmp_path),
            "web.port": self.web_port,
            **(overrides or {}),
        }
        del self.settings["ami.secret"]  # from the environment, as deployed
        self.output = tmp_path / "hotline-serve.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        args = [sys.executable, "-m", "hotline.cli", "serve", "--config", str(ROOT / "config")]
        for key, value in self.settings.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        env = {**os.environ, "HOTLINE_AMI_SECRET": AMI_SECRET}
        with self.output.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                *args, cwd=ROOT, env=env, stdout=output, stderr=output
            )
        async with asyncio.timeout(timeout_s):
            while not await asyncio.to_thread(self.ready):
                if self.process.returncode is not None:
                    raise RuntimeError(f"hotline serve exited:\n{self.output.read_text()[-3000:]}")
                await asyncio.sleep(0.2)

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.web_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    async def kill(self) -> None:
        """SIGKILL: no clean end, no goodbye to Asterisk; the kernel closes its sockets."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()
