"""A bot's SIP socket, with a doorman who answers what pyVoIP cannot (sip_triage.py).

pyVoIP's ``SIPClient`` reads its UDP socket from several places (its receive loop, while
registering, and inside ``invite()`` while it waits for the first response), so one
unexpected request can hit any of them. Here the real UDP socket belongs to one doorman
thread: it answers OPTIONS and refuses unknown methods itself, answers CANCEL with the
phone (200, and 487 to the INVITE if it still rang), and passes on only the datagrams
pyVoIP can parse, through a local datagram socket pair that pyVoIP reads as if it were its
socket (``recv``, ``setblocking``, ``select`` on ``fileno``). What pyVoIP sends goes
straight out of the UDP socket.

:class:`BotPhone` is pyVoIP's ``VoIPPhone`` with a ``SIPClient`` that uses this socket; its
``answer`` and a CANCEL take the same lock, so a cancelled call is never answered.
Written against pyVoIP 1.6.8 (``SIPClient.start``: bind, register, start the receive loop).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import cast

import pyVoIP
from pyVoIP.VoIP import CallState, VoIPCall, VoIPPhone  # first: pyVoIP.SIP alone: circular

# isort: split
from pyVoIP.SIP import SIPClient, SIPMessage

from telephony.bots.sip_triage import (
    Cancel,
    Drop,
    Forward,
    Identity,
    Reply,
    call_id_of,
    dialog_tag,
    triage,
    with_to_tag,
)

__all__ = ["BotPhone", "SipFrontDoor"]

log = logging.getLogger(__name__)

USER_AGENT = f"hotline-bot (pyVoIP {pyVoIP.__version__})"
_MAX_DATAGRAM = 65535
#: Call-IDs remembered (INVITEs passed on, calls cancelled before pyVoIP took them in).
_REMEMBERED = 256


def _remember(seen: OrderedDict[str, None], key: str) -> None:
    seen[key] = None
    seen.move_to_end(key)
    while len(seen) > _REMEMBERED:
        seen.popitem(last=False)


def pyvoip_parses(datagram: bytes) -> bool:
    """Whether pyVoIP's parser accepts ``datagram`` (it raises anything on what it cannot)."""
    try:
        SIPMessage(datagram)
    except Exception:  # noqa: BLE001 - pyVoIP raises ValueError, IndexError, KeyError...
        return False
    return True


class SipFrontDoor:
    """The UDP socket a bot's ``SIPClient`` uses: the part of a socket's API pyVoIP calls
    (``recv``, ``sendto``, ``setblocking``, ``fileno``, ``close``), with the doorman behind.
    """

    def __init__(self, me: Identity, cancel: Callable[[str], bool] | None = None) -> None:
        """``cancel(call_id)``: the phone stops ringing for that call; False if it answered
        already (the doorman then answers the CANCEL alone, the INVITE is not ended)."""
        self.me = me
        self._cancel = cancel
        self._invited: OrderedDict[str, None] = OrderedDict()
        self._answered: dict[tuple[str, int], int] = {}  # (method, status) -> how many
        self._told: set[str] = set()
        self._lock = threading.Lock()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._udp.bind((me.address, me.port))
        except OSError:
            self._udp.close()
            raise
        self._inbox, self._feed = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._feed.setblocking(False)
        self._bell, self._bell_push = socket.socketpair()
        self._closed = False
        self._doorman = threading.Thread(
            target=self._serve, name=f"SIP doorman {me.username}", daemon=True
        )
        self._doorman.start()

    # -- what pyVoIP calls --------------------------------------------------------------

    def recv(self, bufsize: int) -> bytes:
        return self._inbox.recv(bufsize)

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        return self._udp.sendto(data, address)

    def setblocking(self, flag: bool) -> None:
        self._inbox.setblocking(flag)

    def fileno(self) -> int:
        return self._inbox.fileno()

    def close(self) -> None:
        """Stop the doorman and close every socket (pyVoIP calls this twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._bell_push.send(b"\0")
        if threading.current_thread() is not self._doorman:
            self._doorman.join(timeout=5)
        for sock in (self._udp, self._inbox, self._feed, self._bell, self._bell_push):
            sock.close()

    # -- the doorman ----------------------------------------------------------------------

    def answered_count(self, method: str, status: int = 200) -> int:
        with self._lock:
            return self._answered.get((method, status), 0)

    def _serve(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._udp, self._bell], [], [])
                if self._bell in ready:
                    return
                datagram, source = self._udp.recvfrom(_MAX_DATAGRAM)
            except OSError:
                return  # closed under us
            try:
                self._handle(datagram, (str(source[0]), int(source[1])))
            except Exception:  # the doorman's thread boundary: one bad datagram only
                log.exception("%s: a SIP datagram could not be handled", self.me.username)

    def _handle(self, datagram: bytes, source: tuple[str, int]) -> None:
        verdict = triage(datagram, source, self.me, pyvoip_parses)
        if isinstance(verdict, Forward):
            invite = call_id_of(datagram)
            if invite is not None:
                _remember(self._invited, invite)
            try:
                self._feed.send(datagram)
            except BlockingIOError:  # pyVoIP is not reading: lost, as UDP may lose it
                self._tell_once("backlog", "pyVoIP is not reading: a SIP datagram was lost")
        elif isinstance(verdict, Cancel):
            if verdict.call_id not in self._invited:
                self._send(verdict.unknown)
            elif self._cancel is not None and self._cancel(verdict.call_id):
                self._send(verdict.ok)
                self._send(verdict.terminated)
            else:
                self._send(verdict.ok)
        elif isinstance(verdict, Reply):
            self._send(verdict)
            if verdict.status != 200:
                self._tell_once(
                    f"{verdict.method} {verdict.status}",
                    f"answered {verdict.method} from {source[0]}:{source[1]} with "
                    f"{verdict.status} (pyVoIP does not handle it)",
                )
        elif isinstance(verdict, Drop):
            kind = verdict.reason.split(":")[0]  # not the quoted start line: once per kind
            self._tell_once(kind, f"dropped a datagram from {source[0]}: {verdict.reason}")

    def _send(self, reply: Reply) -> None:
        with self._lock:  # counted first: whoever gets the reply sees the count
            key = (reply.method, reply.status)
            self._answered[key] = self._answered.get(key, 0) + 1
        self._udp.sendto(reply.datagram, reply.to)

    def _tell_once(self, kind: str, message: str) -> None:
        """Log each kind of trouble once per phone (INFO), then only at DEBUG."""
        with self._lock:
            first = kind not in self._told
            self._told.add(kind)
        log.log(logging.INFO if first else logging.DEBUG, "%s: %s", self.me.username, message)


class FrontDoorSIPClient(SIPClient):
    """pyVoIP's SIP client, reading and writing through a :class:`SipFrontDoor`."""

    front_door: SipFrontDoor | None = None
    #: What the front door calls on a CANCEL (the phone sets it: ``BotPhone.cancel``).
    on_cancel: Callable[[str], bool] | None = None

    def start(self) -> None:
        # pyVoIP 1.6.8's SIPClient.start, with the front door for its socket.
        if self.NSD:
            raise RuntimeError("Attempted to start already started SIPClient")
        self.NSD = True
        identity = Identity(self.username, self.myIP, self.myPort, USER_AGENT)
        self.front_door = SipFrontDoor(identity, self.on_cancel)
        # pyVoIP uses only recv, sendto, setblocking, close and (select) fileno of it.
        self.s = self.out = cast(socket.socket, self.front_door)
        self.register()
        receiver = threading.Timer(1, self.recv_loop)
        receiver.name = f"SIP receive {self.username}"
        receiver.start()

    def gen_ack(self, request: SIPMessage) -> str:
        """pyVoIP 1.6.8's ACK, with the response's To tag instead of a fresh random one.

        With a random tag the ACK matches no dialog: Asterisk retransmits its 200 OK and,
        32 s later (RFC 3261 timer H), hangs the call up."""
        return with_to_tag(super().gen_ack(request), request.headers["To"]["tag"])

    def gen_ringing(self, request: SIPMessage) -> str:
        """pyVoIP 1.6.8's 180, with the To tag the front door's 487 gives the same INVITE
        after a CANCEL (pyVoIP draws a random one, and uses it again in its 200 OK)."""
        call_id = request.headers["Call-ID"]
        tag = dialog_tag(call_id, request.headers["From"]["tag"], self.username)
        ringing = with_to_tag(super().gen_ringing(request), tag)
        self.tagLibrary[call_id] = tag
        return ringing


class BotPhone(VoIPPhone):
    """A pyVoIP phone that answers OPTIONS and survives requests pyVoIP does not know."""

    sip: FrontDoorSIPClient

    def __init__(
        self,
        server: str,
        port: int,
        username: str,
        password: str,
        *,
        my_ip: str,
        sip_port: int,
        rtp_low: int,
        rtp_high: int,
        on_call: Callable[[VoIPCall], None] | None = None,
    ) -> None:
        super().__init__(
            server,
            port,
            username,
            password,
            myIP=my_ip,
            callCallback=on_call,
            sipPort=sip_port,
            rtpPortLow=rtp_low,
            rtpPortHigh=rtp_high,
        )
        self.sip = FrontDoorSIPClient(
            server,
            port,
            username,
            password,
            phone=self,
            myIP=my_ip,
            myPort=sip_port,
            callCallback=self.callback,
            fatalCallback=self.fatal,
        )
        self.sip.on_cancel = self.cancel
        #: Taken to answer a call and to cancel one: never both.
        self._answering = threading.Lock()
        self._cancelled: OrderedDict[str, None] = OrderedDict()

    def answer(self, call: VoIPCall) -> bool:
        """Answer ``call`` if it still rings; False if a CANCEL ended it."""
        with self._answering:
            if call.state != CallState.RINGING:
                return False
            call.answer()
            return True

    def cancel(self, call_id: str) -> bool:
        """A CANCEL (the front door's thread): the ringing call ends unanswered; a call
        pyVoIP has not taken in yet never rings. False if it was answered already."""
        with self._answering:
            call = self.calls.get(call_id)
            if call is None:
                _remember(self._cancelled, call_id)
                return True
            if call.state != CallState.RINGING:
                return False
            call.state = CallState.ENDED  # its RTP starts only with an answer
            self.calls.pop(call_id, None)
            return True

    def _callback_MSG_Invite(self, request: SIPMessage) -> None:
        with self._answering:
            if request.headers["Call-ID"] in self._cancelled:
                return  # cancelled while on its way to pyVoIP: 487 already sent
            super()._callback_MSG_Invite(request)

    def answered_count(self, method: str, status: int = 200) -> int:
        """How many ``method`` requests the front door answered with ``status``."""
        door = self.sip.front_door
        return 0 if door is None else door.answered_count(method, status)
