"""Data in and out of the product: the inventory CSV import (``imports``), manifests as
code (``manifest``, pure, and ``manifest_sync``, which compares one with the inventory),
iCalendar feeds of review dates (``ical``) and signed webhooks (``webhooks``).

May import: the actions and every area below the pages; never the views or the API
(they call in here).
"""
