"""The live ACD: the edge between the pure core (``acd``) and calls and agents.

* ``service``: ``AcdService``, the asyncio owner of the ``CallDistributor`` (its timer, the
  offers' delivery, agents' actions and telephony facts, the reconcile watchdog);
* ``gateway``: ``LiveAcd``, the IVR's ``AcdGateway``: join, wait, ring, leave;
* ``waiting``: the waiting caller on the AGI session (hold music, announcements, keys);
* ``ringing``: the offer as a Dial from the caller's session, and its outcome as facts;
* ``agent_feed``: AMI events as agents' telephony facts;
* ``callbacks``: booked callbacks queued as virtual calls and dialled back (agent first);
* ``ewt``: the expected-wait model (pure);
* ``persistence``: the ACD's event log, written to the history store;
* ``call_interactions``: every call's one interaction, written to the history store;
* ``settings``: ``waiting.yaml``'s model.
"""
