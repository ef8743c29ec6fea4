"""The one home of portfolio figures: every count or date a person reads about the
portfolio is defined here (or in the QuerySet method named here) and nowhere else. The
dashboard, the queue, the agent list, the CSV exports, ``review_queue --format json``,
the board pack and the assessment report all read them from here.

Each figure is computed by the database in a constant number of queries, whatever the
number of agents. The definitions, in words, are on the page "How these figures are
counted" (templates/assessments/figures.html); keep the two in step.

Scope: figures about the portfolio count **active** agents. A retired agent keeps its
history (assessments, exceptions) but is in no figure.

Assessment state of an agent (``AgentQuerySet.with_assessment_state``):
  pending decision: its assessment in progress is submitted, awaiting a reviewer;
  returned: its assessment in progress was returned to the assessor;
  in draft: its assessment in progress is a draft;
  never started: it has no assessment of any state;
  decided: it has an approved assessment and nothing in progress.
  "No class yet" (``UNASSESSED_LABEL``: no approved assessment, so no class) is pending
  + returned + in draft + never started, restricted to agents never approved.

Review state (``ReviewQuerySet.with_state``, ``AgentQuerySet.with_review_state``): an agent
has at most one open review; its due date is the earliest open reason (a trigger moves
it to the trigger's day, never later). Overdue: the due date has passed, triggered or
not ("overdue since" the due date). Triggered: a change asked for it and it is not
overdue yet. Due: scheduled, due within 30 days.

Exceptions in force (``ExceptionQuerySet.in_force``): the latest exception per agent and
subject (a renewal supersedes the one before it), not revoked and not expired.
Expiring: in force and expiring within 30 days.

Open gaps: required controls recorded as a gap in each active agent's latest approved
assessment, less those covered by an exception in force.

What lives here: ``states``, ``gaps``, ``coverage``, ``accountability`` and ``estate``
(the definitions), ``snapshot`` (the dashboard's figures stored together), ``stored``
(stored figures marked changed by writes and recomputed in the background) and
``planner`` (the database's planner statistics after bulk writes). Callers import the
definitions from the package.

May import: the models, the engine, ``access`` and ``workflow``; never the views, the
API or the actions.
"""


# ruff: noqa: F401 (the package's names, re-exported for its callers)

from .accountability import (
    ORPHANS_SHOWN,
    Accountability,
    accountability,
    accountability_as_of,
    accountability_counts,
    stored_accountability,
)
from .coverage import (
    ItemCoverage,
    LevelCoverage,
    addressed_items,
    control_items,
    item_depths,
    level_coverage,
    portfolio_coverage,
    with_ancestors,
)
from .estate import (
    DiscoveryFigures,
    discovery_figures,
    discovery_latest_runs,
)
from .gaps import (
    AgentGaps,
    Gaps,
    _gap_rows_sql,
    figures_as_of,
    index_gaps,
    open_gaps,
)
from .snapshot import (
    EXPIRING_FIELDS,
    EXPIRING_SHOWN,
    RECLASSIFIED_FIELDS,
    SNAPSHOT_FORMAT,
    Figures,
    _compute,
    catalogue_counts,
    dashboard_figures,
    queue_states,
    snapshot,
    stored_catalogue_counts,
)
from .states import (
    ASSESSMENT_STATE_LABELS,
    ASSESSMENT_STATES,
    CLASSES,
    EVIDENCE_CHANGED,
    EVIDENCE_CHANGED_LABEL,
    STATE_FILTERS,
    TIERS,
    UNASSESSED_LABEL,
    ClassTier,
    agents_for_list,
    assessment_states,
    assessment_states_as_of,
    class_tier,
    evidence_changed_reviews,
    exceptions_in_force,
    expiring_exceptions,
    filter_assessment_state,
    overdue_reviews,
    recent_reclassifications,
    reclassified_up,
    review_evidence_changed,
    review_states,
    triggered_past_due_words,
)
