"""SIP softphone bots (pyVoIP) for acceptance and load tests against a real Asterisk: a
caller who dials, speaks and presses keys and records what it hears; an agent who
registers, answers, talks and hangs up. ``hotline bots`` runs them."""
