"""PDF reports, their verification, and CSV exports (issue 6).

- ``pdf``: WeasyPrint rendering (PDF/A-3b, embedded Inter fonts, nothing fetched from
  the network), document ids and the canonical-content hash.
- ``assessment``: the report of one assessment, built from what the report states.
- ``board``: the portfolio board pack.
- ``verify``: does a PDF match a report this application issued?
- ``exports``: streamed CSV of the inventory and of every assessment version.

Creating a ``ReportRecord`` is a state change, so it happens in ``actions.py``
(``issue_assessment_report``, ``issue_board_pack``); this package renders and reads.
"""
