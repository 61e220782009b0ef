"""A host of the test's own: a network namespace joined to this one by a veth pair with
link-local addresses (169.254.0.0/16: never routed off the machine), whose link the test can
cut and mend. Needs root and iproute2 (``ip``); ``NamespaceUnavailable`` says why not."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

IP = shutil.which("ip")


class NamespaceUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    assert IP is not None
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Host:
    """``address`` is the namespace's end of the link, ``peer`` this side's."""

    def __init__(self) -> None:
        if IP is None:
            raise NamespaceUnavailable("iproute2's ip is not installed")
        if os.geteuid() != 0:
            raise NamespaceUnavailable("network namespaces need root")
        tag = uuid.uuid4().hex[:6]
        self.name = f"hl-{tag}"
        self._outer, self._inner = f"hl{tag}a", f"hl{tag}b"
        subnet = int(tag[:2], 16) % 250 + 1
        self.peer, self.address = f"169.254.{subnet}.1", f"169.254.{subnet}.2"

    def __enter__(self) -> Host:
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self._outer, "type", "veth", "peer", "name", self._inner)
            _ip("link", "set", self._inner, "netns", self.name)
            _ip("addr", "add", f"{self.peer}/30", "dev", self._outer)
            _ip("link", "set", self._outer, "up")
            inside = ("netns", "exec", self.name, IP or "ip")
            _ip(*inside, "addr", "add", f"{self.address}/30", "dev", self._inner)
            _ip(*inside, "link", "set", self._inner, "up")
            _ip(*inside, "link", "set", "lo", "up")
        except NamespaceUnavailable:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run([IP or "ip", "link", "del", self._outer], capture_output=True)
        subprocess.run([IP or "ip", "netns", "del", self.name], capture_output=True)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return [IP or "ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        _ip("link", "set", self._outer, "down")

    def mend(self) -> None:
        _ip("link", "set", self._outer, "up")
