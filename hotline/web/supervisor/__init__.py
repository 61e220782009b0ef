"""The supervisor's live page: queues, calls waiting, agents and KPIs, pushed over a WebSocket."""
