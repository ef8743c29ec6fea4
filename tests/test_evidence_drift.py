"""Drift, without a database: what newer evidence says that the approved answers did not."""

from __future__ import annotations

from assessments.evidence import Evidence, Proposal, differences

LINE = (Evidence("f.json", "x", "y"),)


def p(key, value):
    return Proposal(key, value, "rule", LINE)


def test_same_answers_are_no_difference():
    approved = {"alters_own_access": True, "credential_model": "workload_identity"}
    assert (
        differences(
            [p("alters_own_access", True), p("credential_model", "workload_identity")], approved
        )
        == []
    )


def test_a_changed_answer_is_a_difference_naming_both_values():
    (text,) = differences(
        [p("alters_own_access", True)],
        {"alters_own_access": False},
        labels={"alters_own_access": "Can it widen its own access?"},
    )
    assert text == (
        "Can it widen its own access?: evidence says yes; the approved assessment says no."
    )


def test_an_unanswered_key_counts_only_on_the_risky_side():
    assert differences([p("credential_model", "static_secret")], {})
    assert differences([p("credential_model", "workload_identity")], {}) == []
    assert differences([p("alters_own_access", False)], {}) == []


def test_systems_count_when_write_or_admin_is_new_or_higher():
    approved = {"systems": [{"name": "s3", "access": "write"}, {"name": "iam", "access": "read"}]}
    proposed = [
        {"name": "s3", "access": "write"},  # same
        {"name": "iam", "access": "admin"},  # higher
        {"name": "sqs", "access": "write"},  # new
        {"name": "athena", "access": "read"},  # new but read only
    ]
    found = differences([p("systems", proposed)], approved)
    assert len(found) == 2
    assert "admin access to iam; the approved assessment says read" in found[0]
    assert "write access to sqs, a system the approved assessment does not list" in found[1]


def test_new_subjects_are_named():
    assert differences([], {}, new_subjects={"github"}) == [
        "New MCP server in the evidence: github."
    ]
