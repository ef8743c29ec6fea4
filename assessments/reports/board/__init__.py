"""The board pack: the whole portfolio for a governance board, in one PDF.

``board_content`` reads the portfolio in a fixed number of queries whatever its size
(agents, systems, latest approved results, reclassifications, reviews, exceptions, one
catalogue per version in use) and returns plain data; the template renders only that,
and its canonical JSON is the pack's fingerprint. Figures come from each agent's latest
approved assessment; agents never approved count as not assessed.

What lives here: ``filters`` (what a pack covers and its bounds), ``figures`` (rows and
figures read from the database), ``content`` (the pack's content as one dictionary),
``sections`` (frameworks, discovery, resolutions), ``history`` (recorded packs, the
baseline and the trends), ``register`` (the risk ranking and the attached register) and
``render`` (the PDF and its attachments), with ``owners`` (who answers for the agents)
beside them.
"""

# ruff: noqa: F401 (the package's names, re-exported for its callers)

from .content import (
    board_content,
)
from .figures import (
    HIGH_RISK_ACCESS,
    IN_PROGRESS_LABELS,
    REVIEW_STATE_LABELS,
)
from .filters import (
    CLASS_LABELS,
    COLOURS,
    DEFAULT_PERIOD_DAYS,
    DEFAULT_TOP,
    DUE_LIST_LIMIT,
    DUE_WITHIN_DAYS,
    LIST_LIMIT,
    MAX_TOP,
    REGISTER_ATTACHMENT,
    TIER_LABELS,
    TIER_ORDER,
    TOP_RISKS,
    TREND_PACKS,
    UNASSESSED,
    BoardFilters,
    FilterError,
)
from .history import (
    HEADLINES,
    RAG_LABELS,
    baseline_pack,
    previous_packs,
    recorded_packs,
)
from .register import (
    REGISTER_COLUMNS,
    REGISTER_HEADER,
    REGISTER_HEADERS,
    due_of,
    needing_attention,
    register_cells,
    register_csv,
    required_action,
    risk_key,
)
from .render import (
    TEMPLATE,
    BoardPack,
    render_board_pack,
)
from .sections import (
    discovery_section,
)
