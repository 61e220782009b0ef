"""Webhooks: task and message events pushed to messaging modules (WhatsApp Business
providers, SMS gateways, a CRM) so that nobody polls.

- ``events``: the JSON envelope (``id``, ``type``, ``created_at``, ``data``) and the event
  types subscriptions select, with wildcards (``task.*``).
- ``signing``: the ``Hotline-Signature`` header (HMAC-SHA256 over ``"{t}.{body}"``, several
  ``v1`` values while a secret is rotated) and ``verify`` for receivers.
- ``policy``: what an attempt's result means (delivered, retry after a back-off with jitter
  or the receiver's ``Retry-After``, dead letter), pure.
- ``store``: the ``DeliveryStore`` protocol the dispatcher records through (an outbox,
  every attempt, dead letters); ``memory`` is an in-process one for tests, the durable one
  is ``history.webhooks.SqlDeliveryStore``.
- ``delivery``: ``WebhookDispatcher``, the asyncio dispatcher (per-subscription queues,
  bounded concurrency, aiohttp POSTs with timeouts).
- ``settings``: the ``webhooks:`` section of ``hotline.yaml``.

Delivery is at least once and unordered: a receiver de-duplicates by the event's ``id`` and
orders by ``created_at``.
"""
