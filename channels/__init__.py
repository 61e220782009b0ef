"""Channels other than voice at their wire edge: I/O and pure parsing, nothing else.

Like ``telephony`` is for Asterisk, this package imports none of the project's packages; the
live edge (``center``) turns what arrives here into the ACD's tasks and the history's
conversations, and the shell wires it in.

* ``email``: inbound mail (an SMTP server in the service's loop, safe parsing of strangers'
  messages, threading by Message-ID) and the agent's reply (composed and sent to a relay).
* ``webhooks``: task and message events pushed to messaging modules (signed, written to an
  outbox first, retried with back-off, dead-lettered, every attempt recorded).
"""
