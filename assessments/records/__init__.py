"""Tamper-evident records: the keyed, anchored audit log (``audit``, with its ``keys``,
signed ``checkpoints`` and ``verify``), the database guards on records that never change
(``guards``), backup and restore (``backup``), where an answer came from
(``provenance``) and who shaped a version of an assessment (``authorship``, for four
eyes).

May import: the models, the engine and the areas the records describe (``access``,
``catalogue``, ``evidence``, ``workflow``; ``interchange``'s webhooks follow each
event); never the views, the API or the actions.
"""
