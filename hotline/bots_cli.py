"""``hotline bots``: SIP caller and agent bots against a real Asterisk, for acceptance and
load tests (docker/ sets one up). Agents register as ``agent<first>``.. and answer; callers
register as ``bot<n>`` (in-band DTMF endpoints) and dial the hotline with a script.

    hotline bots --asterisk 192.0.2.10 --my-ip 192.0.2.20 --agents 3 --callers 5 \\
        --script "wait:2,press:1,wait:3,press:0,wait:30" --record-dir var/bots
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from telephony.bots.agent import AgentBot
from telephony.bots.caller import CallerBot, CallerOutcome, parse_script
from telephony.bots.phone import Account

DEFAULT_SCRIPT = "wait:2,press:1,wait:3,press:0,wait:30"


def register(subparsers: Any) -> None:
    bots = subparsers.add_parser(
        "bots", help="SIP caller and agent bots against a real Asterisk (acceptance, load)"
    )
    bots.add_argument("--asterisk", required=True, metavar="HOST", help="Asterisk's address")
    bots.add_argument("--port", type=int, default=5060, help="Asterisk's SIP port")
    bots.add_argument(
        "--my-ip", default="127.0.0.1", help="this machine's address as Asterisk sees it"
    )
    bots.add_argument("--callers", type=int, default=1, metavar="N", help="caller bots (at once)")
    bots.add_argument("--agents", type=int, default=0, metavar="N", help="agent bots")
    bots.add_argument("--number", default="100", help="what the callers dial (the hotline)")
    bots.add_argument(
        "--script", default=DEFAULT_SCRIPT, help="caller script: wait:S, say:WAV, press:DIGITS"
    )
    bots.add_argument("--first-agent", type=int, default=1001, help="agent bots are agent<N>..")
    bots.add_argument("--agent-password", default="change-me-{id}", help="{id} is the agent id")
    bots.add_argument("--caller-password", default="bot-{n}", help="{n} is the caller bot number")
    bots.add_argument("--talk", type=float, default=5.0, metavar="S", help="agents talk this long")
    bots.add_argument("--record-dir", type=Path, help="write what each caller heard here")
    bots.add_argument("--sip-port", type=int, default=5070, help="first local SIP port")
    bots.add_argument(
        "--rtp-port",
        type=int,
        default=20000,
        help="first local RTP port: each bot (agents, then callers) takes the next 100",
    )
    bots.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        script = parse_script(args.script)
    except ValueError as error:
        print(f"hotline bots: {error}", file=sys.stderr)
        return 2
    outcomes = asyncio.run(_drive(args, script))
    failed = 0
    for outcome in outcomes:
        state = "answered" if outcome.answered else "not answered"
        line = f"{outcome.number}: {state}, heard {outcome.heard_s:.1f} s"
        if outcome.recording is not None:
            line += f" -> {outcome.recording}"
        if outcome.error:
            line += f" ({outcome.error})"
            failed += 1
        print(line)
    print(f"hotline bots: {len(outcomes) - failed}/{len(outcomes)} calls completed")
    return 1 if failed else 0


async def _drive(args: argparse.Namespace, script: list[Any]) -> list[CallerOutcome]:
    port = args.sip_port
    agents = []
    for index in range(args.agents):
        agent_id = args.first_agent + index
        account = Account(
            args.asterisk,
            f"agent{agent_id}",
            args.agent_password.format(id=agent_id),
            args.my_ip,
            port,
            args.port,
            rtp_low=args.rtp_port + 100 * index,
            rtp_high=args.rtp_port + 100 * index + 99,
        )
        port += 1
        agents.append(AgentBot(account, talk_s=args.talk))
    callers = []
    for n in range(1, args.callers + 1):
        account = Account(
            args.asterisk,
            f"bot{n}",
            args.caller_password.format(n=n),
            args.my_ip,
            port,
            args.port,
            rtp_low=args.rtp_port + 100 * (args.agents + n - 1),
            rtp_high=args.rtp_port + 100 * (args.agents + n - 1) + 99,
        )
        port += 1
        callers.append(CallerBot(account, args.record_dir))
    try:
        for agent in agents:
            await asyncio.to_thread(agent.start)
        return list(
            await asyncio.gather(*(asyncio.to_thread(c.call, args.number, script) for c in callers))
        )
    finally:
        for agent in agents:
            await asyncio.to_thread(agent.stop)
        print(
            f"hotline bots: agents answered {sum(a.answered for a in agents)} calls",
            file=sys.stderr,
        )
