"""The shared cross-channel customer history (importable by chat and e-mail modules).

Open a store with ``history.store.create_engine(url)`` and ``await history.store.migrate(engine)``;
read and write through ``history.repository.HistoryRepository`` (inputs in ``history.inputs``,
frozen results in ``history.records``, refusals in ``history.errors``); chats, e-mails and
messaging-app threads through ``history.conversations.Conversations`` (their files in
``history.attachments.AttachmentStore``). The voice side writes
through ``history.writer.HistoryWriter``, which spools to disk (``history.spool``) while the
database is unavailable and replays in order when it returns.
"""
