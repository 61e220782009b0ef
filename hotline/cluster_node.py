"""This process as one node of several sharing one ACD (``cluster.redis_url`` set).

Three parts, wired here so that the service's assembly (``hotline.app``) stays about what
one node does: the node's copy of the shared ACD (``center.acd_cluster``: every change
through a log in Redis), agents' phones registered on a peer Asterisk
(``center.phone_registry``, when ``cluster.peers`` names any), and the chats and e-mails
whose customer and agent are on two nodes (``center.conversation_relay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from center.acd_cluster import AcdCluster, ClusterSettings, LogClock
from center.acd_cluster_figures import ClusterFigures
from center.conversation_relay import ConversationRelay
from center.conversations import ConversationDesk
from center.offer_loop import PhoneRoute, same_phone
from center.persistence import HistoryEventSink
from center.phone_registry import PhoneRegistry
from center.service import AcdService
from hotline.config import Config
from hotline.web.auth.secret_box import SecretBox
from hotline.web.chat.hub import CHANNEL as CHAT_CHANNEL
from hotline.web.chat.hub import ChatHub, CustomerGone
from hotline.web.typing_relay import TypingRelay
from telephony.ami_client import AmiClient


class ClusterNode:
    """The shared ACD's copy on this node, with its phone registry and conversation relay.

    Built with the ACD (``joining``), then given the desk (``carry``); started before the
    ACD (``start_log``), its phones once FastAGI listens (``start_phones``); closed after it.
    """

    def __init__(self, cluster: AcdCluster, phones: PhoneRegistry | None, key: SecretBox):
        self.cluster = cluster
        self.phones = phones
        self.relay: ConversationRelay | None = None
        self._key = key

    @classmethod
    def joining(
        cls,
        config: Config,
        acd: AcdService,
        clock: LogClock,
        log: HistoryEventSink,
        environ: Mapping[str, str] | None,
    ) -> ClusterNode:
        """This node's copy of the ACD on ``config.cluster``'s log; ``log`` signs its
        records with the log's key."""
        c = config.cluster
        assert c.redis_url is not None
        key = SecretBox.load(config.web.sign_in.two_factor.key_file, environ)
        cluster = AcdCluster(
            ClusterSettings(
                c.redis_url,
                c.node_id,
                lease_s=c.lease_s,
                node_ttl_s=c.node_ttl_s,
                snapshot_every=c.snapshot_every,
            ),
            acd,
            clock,
            key=key.derive("hotline shared ACD log"),
        )
        log.keys = cluster.event_key
        phones = None
        if c.peers:
            phones = PhoneRegistry(
                c.redis_url,
                c.node_id,
                c.peers,
                endpoints=lambda: [a.endpoint for a in acd.distributor.agents.values()],
                ttl_s=c.node_ttl_s,
            )
        return cls(cluster, phones, key)

    @property
    def route(self) -> PhoneRoute:
        """How an agent's phone is dialled: through the trunk when it is on a peer."""
        return same_phone if self.phones is None else self.phones.route

    def owns(self, call_id: str) -> bool:
        """Whether this node holds the call (and so writes its interaction)."""
        return self.cluster.owns(call_id)

    def attach(self, ami: AmiClient) -> None:
        """Read this node's Asterisk's registrations (when phones may be elsewhere)."""
        if self.phones is not None:
            self.phones.attach(ami)

    def carry(self, desk: ConversationDesk, typing: TypingRelay, chat: ChatHub) -> None:
        """Conversations across nodes: the desk's notices and the chat's replies relayed."""
        relay = ConversationRelay.joining(self.cluster, self._key.derive("hotline desk relay"))
        relay.carry(desk, typing)
        relay.outlet(desk, CHAT_CHANNEL, chat.deliver, absent=CustomerGone)
        self.relay = relay

    async def start_log(self) -> None:
        """The shared ACD's copy (before the ACD starts), then the relay."""
        await self.cluster.start()
        if self.relay is not None:
            await self.relay.start()

    def start_phones(self) -> None:
        if self.phones is not None:
            self.phones.start()

    async def close(self) -> None:
        """After the ACD: the relay, the phones, then the log."""
        if self.relay is not None:
            await self.relay.close()
        if self.phones is not None:
            await self.phones.close()
        await self.cluster.close()

    def figures(self) -> ClusterFigures:
        """This node's figures of the shared ACD and of its conversation relay."""
        figures = self.cluster.figures()
        return figures if self.relay is None else replace(figures, relay=self.relay.figures())
