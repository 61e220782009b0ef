"""The web chat channel: the widget a business embeds and its WebSocket, turned into the
conversation desk's calls (``center.conversations``)."""
