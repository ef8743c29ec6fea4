"""The shipped catalogue and questionnaire data, checked against the engine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from assessments.engine import (
    ALLOWED_VALUES,
    ANSWER_KEYS,
    ANSWER_TYPES,
    CONTRACT_KEYS,
    CONTROL_KEYS,
    Catalogue,
    CatalogueError,
    Questionnaire,
    QuestionnaireError,
    load_catalogue,
    load_questionnaire,
)

CATALOG = Path(__file__).resolve().parent.parent / "assessments" / "catalog"
MAIN_FRAMEWORKS = ("owasp_asi_top10_2026", "owasp_nhi_top10_2025", "csa_maestro", "nist_ai_rmf_1_0")


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((CATALOG / "catalogue-v1.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questionnaire_raw() -> dict[str, Any]:
    return yaml.safe_load((CATALOG / "questionnaire-v1.yaml").read_text(encoding="utf-8"))


def item_ids(raw: dict[str, Any]) -> dict[str, list[str]]:
    return {f["key"]: [i["id"] for i in f["items"]] for f in raw["frameworks"]}


# --------------------------------------------------------------------------- frameworks


def test_every_mapping_and_reference_note_names_an_item_that_exists(raw):
    ids = item_ids(raw)
    for control in raw["controls"]:
        for mapping in control["mappings"]:
            assert mapping["item"] in ids[mapping["framework"]], (control["id"], mapping)
    for note in raw["reference_notes"]:
        for use in note.get("use", []):
            assert use["item"] in ids[use["framework"]], note["cited"]


def test_every_control_maps_to_each_of_the_four_main_frameworks(raw):
    for control in raw["controls"]:
        mapped = {m["framework"] for m in control["mappings"]}
        assert set(MAIN_FRAMEWORKS) <= mapped, control["id"]


def test_every_mapping_has_a_one_line_justification(raw):
    for control in raw["controls"]:
        for mapping in control["mappings"]:
            text = mapping["justification"]
            assert text.strip() and "\n" not in text and len(text) <= 500, mapping


def test_the_main_frameworks_hold_exactly_the_verified_identifiers(raw):
    ids = item_ids(raw)
    assert ids["owasp_asi_top10_2026"] == [f"ASI{n:02d}" for n in range(1, 11)]
    assert ids["owasp_nhi_top10_2025"] == [f"NHI{n}" for n in range(1, 11)]
    assert ids["csa_maestro"] == [f"L{n}" for n in range(1, 8)]
    nist = ids["nist_ai_rmf_1_0"]
    assert nist[:2] == ["GOVERN", "GOVERN 1"]
    assert {"GOVERN 2", "GOVERN 2.1", "GOVERN 2.3", "MAP", "MEASURE 3", "MANAGE 4"} <= set(nist)
    assert len([i for i in nist if i.startswith("GOVERN ") and "." in i]) == 19


def test_the_invalid_citations_of_the_guidance_are_not_identifiers(raw):
    every_id = {i for ids in item_ids(raw).values() for i in ids}
    assert not {"A2", "GOV-2", "GOV-1", "ASI-02"} & every_id


def test_the_reference_notes_correct_the_two_invalid_citations(raw):
    notes = {n["cited"]: n for n in raw["reference_notes"]}
    assert len(notes) == 2
    assert {n["status"] for n in notes.values()} == {"invalid"}
    a2 = notes["OWASP Agentic AI Top 10 | A2"]
    assert {u["item"] for u in a2["use"]} == {"ASI02", "ASI03"}
    gov2 = notes["CSA MAESTRO | GOV-2"]
    assert "seven layers" in gov2["verdict"]
    assert {(u["framework"], u["item"]) for u in gov2["use"]} == {
        ("csa_maestro", "L6"),
        ("nist_ai_rmf_1_0", "GOVERN 2"),
    }


def test_the_items_the_guidance_points_at_are_mapped(raw):
    mapped = {(m["framework"], m["item"]) for c in raw["controls"] for m in c["mappings"]}
    assert ("owasp_asi_top10_2026", "ASI02") in mapped
    assert ("owasp_asi_top10_2026", "ASI03") in mapped
    assert ("csa_maestro", "L6") in mapped
    assert any(f == "nist_ai_rmf_1_0" and i.startswith("GOVERN 2.") for f, i in mapped)


def test_every_item_has_a_title_and_a_parent_listed_before_it(raw):
    for framework in raw["frameworks"]:
        seen: set[str] = set()
        for item in framework["items"]:
            assert item["title"].strip(), item
            if "parent" in item:
                assert item["parent"] in seen, item
            seen.add(item["id"])
    nist = {
        i["id"]: i
        for i in next(f for f in raw["frameworks"] if f["key"] == "nist_ai_rmf_1_0")["items"]
    }
    assert nist["GOVERN 2.1"]["parent"] == "GOVERN 2"
    assert nist["GOVERN 2"]["parent"] == "GOVERN"


def test_the_minimum_control_catalogue_is_present(raw):
    assert [c["id"] for c in raw["controls"]] == [
        *(f"AIC-0{n}" for n in range(1, 10)),
        *(f"MIC-0{n}" for n in range(1, 6)),
    ]
    assert raw["version"] == "2026.1"


# --------------------------------------------------------------------------- round trip


def test_the_catalogue_round_trips_through_plain_data(raw):
    catalogue = load_catalogue()
    assert catalogue.to_dict() == raw
    assert Catalogue.from_dict(catalogue.to_dict()) == catalogue
    assert Catalogue.from_dict(copy.deepcopy(raw)).to_dict() == raw


def broken(raw: dict[str, Any], change) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    change(data)
    return data


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda d: d["controls"][0]["mappings"].append(
                {"framework": "csa_maestro", "item": "GOV-2", "justification": "x"}
            ),
            id="mapping to an item that does not exist",
        ),
        pytest.param(
            lambda d: d["controls"][0]["mappings"].append(
                {"framework": "owasp_agentic_ai", "item": "A2", "justification": "x"}
            ),
            id="mapping to a framework that is not listed",
        ),
        pytest.param(
            lambda d: d["controls"][0]["applies_when"].append({"label": ["agent"]}),
            id="condition on an unknown fact",
        ),
        pytest.param(
            lambda d: d["controls"][0]["gap_when"].append({"network_reach": ["everywhere"]}),
            id="condition value outside the fact's values",
        ),
        pytest.param(
            lambda d: d["controls"][0]["gap_when"].append({"shared_platform_role": [1]}),
            id="condition value of the wrong type",
        ),
        pytest.param(lambda d: d["controls"].append(d["controls"][0]), id="duplicate control"),
        pytest.param(
            lambda d: d["frameworks"][0]["items"].insert(
                0, {"id": "X", "title": "x", "parent": "ASI01"}
            ),
            id="parent listed after the item",
        ),
        pytest.param(
            lambda d: d["controls"][0].update(applies_when=[]), id="control never applies"
        ),
    ],
)
def test_an_inconsistent_catalogue_is_refused(raw, change):
    with pytest.raises(CatalogueError):
        Catalogue.from_dict(broken(raw, change))


# --------------------------------------------------------------------------- questionnaire


def test_the_questionnaire_asks_every_answer_key_in_contract_order():
    questionnaire = load_questionnaire()
    assert [q.id for q in questionnaire.questions] == list(ANSWER_KEYS)
    assert [s.id for s in questionnaire.sections] == [
        "runtime",
        "credentials",
        "reach",
        "traceability",
        "composition",
        "controls",
    ]
    assert [q.id for q in questionnaire.sections[-1].questions] == list(CONTROL_KEYS)


def test_question_types_and_values_are_the_engines():
    for question in load_questionnaire().questions:
        assert question.type == ANSWER_TYPES[question.id], question.id
        if question.type == "agents":
            assert question.options == ()
        else:
            assert question.values == ALLOWED_VALUES[question.id], question.id
            assert all(o.label and o.explanation for o in question.options), question.id


def test_contract_questions_are_required_and_control_questions_optional():
    questionnaire = load_questionnaire()
    for key in CONTRACT_KEYS:
        assert questionnaire.question(key).required, key
    for key in CONTROL_KEYS:
        assert not questionnaire.question(key).required, key


def test_every_question_has_a_prompt_and_help():
    for question in load_questionnaire().questions:
        assert question.prompt.strip() and question.help.strip(), question.id


def test_boolean_questions_read_yes_and_no(questionnaire_raw):
    for section in questionnaire_raw["sections"]:
        for question in section["questions"]:
            if question["type"] == "boolean":
                assert [(o["value"], o["label"]) for o in question["options"]] == [
                    (True, "Yes"),
                    (False, "No"),
                ], question["id"]


def test_show_if_refers_to_existing_questions_and_their_values(questionnaire_raw):
    questions = {q["id"]: q for s in questionnaire_raw["sections"] for q in s["questions"]}
    for question in questions.values():
        for key, values in (question.get("show_if") or {}).items():
            assert key in questions, (question["id"], key)
            allowed = [o["value"] for o in questions[key].get("options", [])]
            assert values and all(v in allowed for v in values), (question["id"], key)


def test_self_direction_is_asked_only_of_a_hybrid_pipeline():
    questionnaire = load_questionnaire()
    assert questionnaire.is_visible("model_steps_self_direct", {"hybrid_pipeline": True})
    assert not questionnaire.is_visible("model_steps_self_direct", {"hybrid_pipeline": False})
    assert not questionnaire.is_visible("model_steps_self_direct", {})
    visible = [q.id for q in questionnaire.visible_questions({"hybrid_pipeline": False})]
    assert "model_steps_self_direct" not in visible
    assert "hybrid_pipeline" in visible


def test_linked_agents_are_asked_only_when_it_works_with_other_agents():
    questionnaire = load_questionnaire()
    assert questionnaire.is_visible("linked_agents", {"orchestration": "peer_mesh"})
    assert not questionnaire.is_visible("linked_agents", {"orchestration": "standalone"})
    assert questionnaire.question("linked_agents").source == "inventory"
    assert questionnaire.question("systems").source == "inventory"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda q: q["show_if"].update(hybrid=[True]), id="show_if names no question"),
        pytest.param(
            lambda q: q["show_if"].update(hybrid_pipeline=["yes"]),
            id="show_if value the question does not offer",
        ),
        pytest.param(lambda q: q.update(type="choice"), id="type differs from the engine's"),
        pytest.param(lambda q: q.update(help=""), id="no help text"),
    ],
)
def test_an_inconsistent_questionnaire_is_refused(questionnaire_raw, change):
    data = copy.deepcopy(questionnaire_raw)
    composition = next(s for s in data["sections"] if s["id"] == "composition")
    change(next(q for q in composition["questions"] if q["id"] == "model_steps_self_direct"))
    with pytest.raises(QuestionnaireError):
        Questionnaire.from_dict(data)
