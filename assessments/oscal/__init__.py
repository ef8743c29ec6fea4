"""OSCAL exports (issue 27): what leaves the product in NIST's machine-readable formats.

- ``content``: gathers what an export states from the database, as plain data. An
  assessment's content is its report's content (``reports.assessment.report_content``),
  so the export and the PDF share one content fingerprint.
- ``build``: turns that content into OSCAL 1.2 documents with compliance-trestle's
  pydantic models (assessment results; plan of action and milestones) and serialises
  them. Pure: no database.

Recording an export (a ``ReportRecord`` and an audit event) is a state change, so it
happens in ``actions.oscal``; verification of a file someone holds is in
``reports.verify``.
"""

from __future__ import annotations

# The namespace of this product's own OSCAL properties (``ns`` of each ``prop``).
NS = "urn:agent-identity-assessor:oscal"
