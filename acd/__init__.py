"""Automatic call distribution: priority, skills, agents, queues, the router, KPIs."""
