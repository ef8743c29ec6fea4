"""The work that follows a decision: the engine's inputs read from the database
(``decisions``), reclassification reviews and the queue's read side (``reviews``),
review reminders (``reminders``), the dashboard's inboxes (``inbox``), notification
e-mail (``notifications``), access certification's read side (``certification``: scope,
requesters, who certifies, progress) and the one door to background work
(``background``).

May import: the models, the engine, ``records``, ``access`` and ``presentation``; the
digests mark what they sent through the actions; never the views or the API.
"""
