"""Automatic call distribution: priority, skills, agents, queues, the router, KPIs.

Pure and synchronous throughout (no sockets, no asyncio); time comes from an injected clock.

* ``calls``: what the IVR knows about a caller (``CallFacts``, ``IncomingCall``).
* ``priority``: base priority terms from config; aging and service-level risk (``Urgency``).
* ``skills``: requirements, rules, relaxation steps; explained matches.
* ``strategy``: tie-breaks among equal agents (longest idle, least calls, round robin...).
* ``queue``: a queue's routing policy and the router's view of a waiting call.
* ``router`` (+ ``routing_index``): the indexed decision; ``naive_router`` is its spec.
* ``offer``: a decision with its explanation.
* ``agent_events`` + ``agents``: the agent state machine and its typed events and errors.
* ``distributor``: the one object the telephony edge and the simulator drive.
* ``events``: the append-only event log; ``kpi`` and ``realtime``: KPIs from it alone.
* ``policy`` + ``build``: the config files' models and the objects built from them.
* ``erlang_c``, ``scenario``, ``simulation``, ``simulate_cli``: the simulator and its CLI.
"""
