"""How engine results and answers read to people: shared by pages, PDF reports, CSV
exports and e-mails. ``words`` is the one function that turns any code a person could
meet (an answer value, a flag, a signal, a rule's sentence, an audit verb or field)
into words; templates use it through the ``words`` filter.

What lives here: ``vocabulary`` (codes into words), ``summary`` (a result's headline),
``panel`` (the wizard's live panel), ``changes`` (histories of changes), ``rows`` (what
a row of a long table shows) and ``charts`` (geometry of server-rendered SVG charts).
Callers import the names below from the package.

May import: the engine, the models, ``access``, ``workflow`` and the badge template
tags; never the views, the API or the actions.
"""

from .changes import actor_name, change_rows, history, page_date
from .panel import (
    NOT_ANSWERED,
    NOT_FULLY_ANSWERED,
    SIGNAL_INPUTS,
    panel_context,
    proposals_by_signal,
    proposed_answers,
    signal_states,
    signal_word,
)
from .summary import (
    CLASS_MEANING,
    CLASS_NAMES,
    TIER4_MACHINE_MEANING,
    TIER_LABELS,
    UNDECIDED_MEANING,
    Headline,
    headline,
    stored_headline,
    undecided_title,
)
from .vocabulary import (
    FIELD_TITLES,
    NOT_SHOWN,
    VERB_LABELS,
    display_value,
    form_value,
    humanise,
    one_line,
    presented,
    sentence,
    why,
    words,
)

# Rows per page on long lists, on the pages and in the API alike.
PAGE_SIZE = 50

__all__ = [
    "CLASS_MEANING",
    "CLASS_NAMES",
    "FIELD_TITLES",
    "NOT_ANSWERED",
    "NOT_FULLY_ANSWERED",
    "NOT_SHOWN",
    "PAGE_SIZE",
    "SIGNAL_INPUTS",
    "TIER4_MACHINE_MEANING",
    "TIER_LABELS",
    "UNDECIDED_MEANING",
    "VERB_LABELS",
    "Headline",
    "actor_name",
    "change_rows",
    "display_value",
    "form_value",
    "headline",
    "history",
    "humanise",
    "one_line",
    "page_date",
    "panel_context",
    "presented",
    "proposals_by_signal",
    "proposed_answers",
    "sentence",
    "signal_states",
    "signal_word",
    "stored_headline",
    "undecided_title",
    "why",
    "words",
]
