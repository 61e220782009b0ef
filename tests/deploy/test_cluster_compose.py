"""docker/docker-compose.cluster.yml (Docker does not run here): two Asterisks, three hotline
nodes, Redis and PostgreSQL agree with each other and with what hotline's config accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from hotline.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "HOTLINE_AMI_SECRET": "ami",
    "POSTGRES_PASSWORD": "pg",
    "REDIS_PASSWORD": "redis",
    "HOTLINE_SECRET_KEYS": "k",
    "HOTLINE_PEER_SECRET": "peers",
}


def _filled(value: str) -> str:
    """The value docker compose would give it, with every secret set and defaults taken."""

    def one(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2) or ""
        if name in SECRETS:
            return SECRETS[name]
        return rest[2:] if rest.startswith(":-") else ""

    return re.sub(r"\$\{([A-Z_0-9]+)((?::[-?])[^}]*)?\}", one, value)


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker" / "docker-compose.cluster.yml").read_text())
    made: dict[str, Any] = document["services"]
    return made


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: _filled(str(v)) for k, v in service.get("environment", {}).items()}


def _address(service: dict[str, Any]) -> str:
    return str(service["networks"]["hotline"]["ipv4_address"])


def test_two_asterisks_three_nodes_redis_and_postgres(services: dict[str, Any]) -> None:
    asterisks = [n for n in services if n.startswith("asterisk")]
    nodes = [n for n in services if n.startswith("hotline")]
    assert (len(asterisks), len(nodes)) == (2, 3)
    assert {"redis", "postgres"} <= set(services)
    assert len({_env(services[n])["HOTLINE_CLUSTER_NODE_ID"] for n in nodes}) == 3


def test_each_asterisk_runs_its_calls_on_a_node_that_allows_it_and_follows_its_ami(
    services: dict[str, Any],
) -> None:
    for name in (n for n in services if n.startswith("asterisk")):
        agi = urlsplit(_env(services[name])["HOTLINE_AGI"])
        node = services[agi.hostname or ""]
        env = _env(node)
        assert _address(services[name]) in env["HOTLINE_FASTAGI_ALLOWED_HOSTS"].split(",")
        assert env["HOTLINE_AMI_HOST"] == name
        assert str(agi.port) == env["HOTLINE_FASTAGI_PORT"]


def test_every_node_shares_one_redis_one_history_and_the_same_keys(
    services: dict[str, Any],
) -> None:
    nodes = [n for n in services if n.startswith("hotline")]
    envs = [_env(services[n]) for n in nodes]
    for key in ("HOTLINE_CLUSTER_REDIS_URL", "HOTLINE_DATABASE_URL", "HOTLINE_SECRET_KEYS"):
        assert len({env[key] for env in envs}) == 1, key
    assert urlsplit(envs[0]["HOTLINE_CLUSTER_REDIS_URL"]).hostname == "redis"
    for name in nodes:  # conversations' files are shared; each node's spool is its own
        mounts = services[name]["volumes"]
        assert "attachments:/srv/hotline/var/attachments" in mounts
        assert f"{name}-var:/srv/hotline/var" in mounts


def test_each_node_s_environment_is_a_valid_cluster_config(services: dict[str, Any]) -> None:
    for name in (n for n in services if n.startswith("hotline")):
        config = load_config(ROOT / "config", environ=_env(services[name]))
        assert config.cluster.redis_url is not None
        assert config.cluster.node_id == name
        assert config.database.url.startswith("postgresql+asyncpg://")


def _overrides(service: dict[str, Any]) -> dict[str, object]:
    """The node's ``--set`` pairs, as ``hotline serve`` reads them (YAML values)."""
    command = [str(part) for part in service["command"]]
    pairs = [command[i + 1] for i, part in enumerate(command) if part == "--set"]
    return {k: yaml.safe_load(v) for k, _, v in (pair.partition("=") for pair in pairs)}


def test_each_node_rings_a_phone_on_either_asterisk_through_their_trunk(
    services: dict[str, Any],
) -> None:
    asterisks = {_env(services[n])["HOTLINE_SYSTEM_NAME"]: n for n in services if "asterisk" in n}
    for name in asterisks.values():  # each Asterisk: a trunk to every other, by address
        env = _env(services[name])
        peers = dict(p.split("=") for p in env["HOTLINE_PEERS"].split(","))
        assert peers == {s: _address(services[n]) for s, n in asterisks.items()}
        assert env["HOTLINE_PEER_SECRET"] == "peers"
    for name in (n for n in services if n.startswith("hotline")):
        overrides = _overrides(services[name])
        config = load_config(ROOT / "config", environ=_env(services[name]), overrides=overrides)
        # configure.sh names the trunk to each peer peer-<its systemname>
        assert config.cluster.peers == {system: f"peer-{system}" for system in asterisks}
