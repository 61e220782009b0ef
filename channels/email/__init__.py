"""The e-mail channel's wire edge.

* ``message``: raw RFC 5322 bytes from strangers → a frozen ``InboundEmail`` (pure, bounded
  by ``limits``: ``MailLimits``, ``MailRefused``, ``Refusal``);
* ``mime``: the stdlib parser held to the limits (parts, nesting, header bytes);
* ``content``: the text body and the attachments (safe filenames) of a parsed message;
* ``charsets`` and ``html_text``: text out of any declared charset, and out of HTML;
* ``message_ids`` and ``threading``: canonical ids, the thread keys of a message, the
  conversation it belongs to, the headers and Message-ID of a reply (pure);
* ``smtp_policy``: whom the server receives for, and how much a peer may send (pure);
* ``smtp_server``: ``InboundSmtpServer``, aiosmtpd in the service's own loop;
* ``sender``: ``ReplySender``, the agent's reply composed and sent to the relay with retries;
* ``headers``: the header field names, named once.
"""
