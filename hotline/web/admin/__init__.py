"""Admin pages: users and roles today (agents, queues, prompts and the catalog are to come)."""
