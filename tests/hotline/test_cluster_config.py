"""``cluster:`` in hotline.yaml: off by default; on, it needs a shared history and a Redis
URL, and its mistakes are located without echoing a password."""

from __future__ import annotations

from pathlib import Path

from hotline.config import load_config

from .test_chat_config import SHIPPED, hotline_yaml, issues

PG = "database: {url: 'postgresql+asyncpg://hotline@127.0.0.1/test'}\n"


def test_one_node_is_the_default() -> None:
    assert load_config(SHIPPED, environ={}).cluster.redis_url is None


def test_a_cluster_node_takes_its_redis_and_name_from_the_environment(tmp_path: Path) -> None:
    env = {
        "HOTLINE_CLUSTER_REDIS_URL": "redis://:pw@10.0.0.5:6379/0",
        "HOTLINE_CLUSTER_NODE_ID": "b",
    }
    cluster = load_config(hotline_yaml(tmp_path, PG), environ=env).cluster
    assert (cluster.redis_url, cluster.node_id) == ("redis://:pw@10.0.0.5:6379/0", "b")
    assert "pw" not in repr(cluster)


def test_a_cluster_on_a_sqlite_file_of_each_node_is_refused(tmp_path: Path) -> None:
    found = issues(hotline_yaml(tmp_path, "cluster: {redis_url: 'redis://127.0.0.1:6379/0'}\n"))
    assert any("must be PostgreSQL" in issue for issue in found)


def test_a_url_that_is_not_redis_is_refused_without_echoing_it(tmp_path: Path) -> None:
    found = issues(hotline_yaml(tmp_path, PG + "cluster: {redis_url: 'http://u:secret@x'}\n"))
    assert any("not a Redis URL" in issue for issue in found)
    assert not any("secret" in issue for issue in found)


REDIS = "cluster: {redis_url: 'redis://127.0.0.1:6379/0', "


def test_peers_name_the_trunk_to_each_peer_asterisk(tmp_path: Path) -> None:
    yaml_text = PG + REDIS + "peers: {asterisk-a: peer-asterisk-a, asterisk-b: peer-asterisk-b}}\n"
    cluster = load_config(hotline_yaml(tmp_path, yaml_text), environ={}).cluster
    assert cluster.peers == {"asterisk-a": "peer-asterisk-a", "asterisk-b": "peer-asterisk-b"}
    assert load_config(SHIPPED, environ={}).cluster.peers == {}


def test_peers_without_the_cluster_are_refused(tmp_path: Path) -> None:
    found = issues(hotline_yaml(tmp_path, PG + "cluster: {peers: {asterisk-b: peer-b}}\n"))
    assert any("cluster.peers is set but cluster.redis_url is not" in issue for issue in found)


def test_a_trunk_that_cannot_be_in_a_dial_string_is_refused(tmp_path: Path) -> None:
    for bad in ("'peer b'", "'peer/b'", "'b&c'", "''"):
        found = issues(hotline_yaml(tmp_path, PG + REDIS + f"peers: {{asterisk-b: {bad}}}}}\n"))
        assert any("peers" in issue and "asterisk-b" in issue for issue in found), (bad, found)


def test_a_peer_system_name_asterisk_cannot_have_is_refused(tmp_path: Path) -> None:
    found = issues(hotline_yaml(tmp_path, PG + REDIS + "peers: {'asterisk b': peer-b}}\n"))
    assert any("peers" in issue for issue in found), found
