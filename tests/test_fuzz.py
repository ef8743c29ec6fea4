"""Fuzzing: hostile values in every form and query string of every page, for every role.

The pages come from the access table (tests/test_access.py), which a test keeps equal to
the URL resolver, so a new page is fuzzed without a line here. Each page's field names
are read from the forms the app itself renders (plus the table's own data and the
common filter names). Every Hypothesis example visits every page once as one role with
freshly drawn values, inside a transaction that is rolled back afterwards; the audit
chain must verify at the end of each example. FUZZ_EXAMPLES raises the number of
examples per role for a deeper run (the suite keeps it small).
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote_plus, urlsplit

from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from assessments.records.audit import verify_chain
from tests.test_access import ACCESS, COMMON_PARAMS, ROLES, AccessTableTests

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))

HOSTILE = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: sent as the (invalid UTF-8) bytes ED A0 80
    "\udfff\ud800",
    "\r\nSet-Cookie: x=1",
    "x" * 100_000,
    "é✓𝔘",
    "'\"<script>alert(1)</script>",
    "%00",
    "../../etc/passwd",
    "-1",
    "0",
    "-9223372036854775809",
    "9223372036854775808",
    "99999999999999999999999999999999",
    "1e308",
    "NaN",
    "-inf",
    "0001-01-01",
    "0001-01-05",
    "9999-12-31",
    "2026-02-30",
    "0000-00-00",
    "99999-01-01",
    "true",
    "on",
    "[]",
    "{}",
]

values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
# A scalar field sent once, several times (a list for a scalar), or not at all.
field_values = st.lists(values, min_size=0, max_size=3)


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(
        f"{quote_plus(k.encode('utf-8', 'surrogatepass'))}="
        f"{quote_plus(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in pairs
    )


class _Forms(HTMLParser):
    """Field names of every form on a page, by the path the form is sent to."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.fields: dict[str, set[str]] = {}
        self._action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._action = urlsplit(attr.get("action") or self.page_path).path
            self.fields.setdefault(self._action, set())
        elif tag in ("input", "select", "textarea", "button") and attr.get("name"):
            path = self._action or urlsplit(attr.get("hx-post") or attr.get("hx-get") or "").path
            if path:
                self.fields.setdefault(path, set()).add(attr["name"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None


@override_settings(TASKS={"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}})
class FuzzTests(TestCase):
    # The access table's users and objects.
    setUpTestData = classmethod(AccessTableTests.setUpTestData.__func__)  # type: ignore[attr-defined]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.pages = cls._pages()

    @classmethod
    def _pages(cls) -> list[tuple[str, str, str, list[str]]]:
        """(route, method, path, field names) for every route; logout last."""
        from django.test import Client

        client = Client()
        client.force_login(cls.users["administrator"])
        found: dict[str, set[str]] = {}
        for name, route in ACCESS.items():
            if name == "logout":
                continue
            path = reverse(name, args=route.args(cls.objs))
            if route.method == "get":
                response = client.get(path, route.query)
            else:  # a form usually lives on the page one level up (…/decide/ on …/)
                response = client.get(path.rstrip("/").rsplit("/", 1)[0] + "/")
                path = response.request["PATH_INFO"]
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                parser = _Forms(path)
                parser.feed(response.content.decode(errors="replace"))
                for action, names in parser.fields.items():
                    found.setdefault(action, set()).update(names)
        pages = []
        for name, route in sorted(ACCESS.items(), key=lambda item: item[0] == "logout"):
            path = reverse(name, args=route.args(cls.objs))
            names = set(found.get(path, set())) | set(route.query) | set(route.data(cls.objs))
            if route.method == "get":
                names |= set(COMMON_PARAMS)
            pages.append((name, route.method, path, sorted(names)))
        return pages

    def test_the_fuzzer_finds_the_fields_of_the_pages_forms(self):
        fields = {name: set(names) for name, _, _, names in self.pages}
        self.assertEqual(set(fields), set(ACCESS))
        self.assertLessEqual(
            {"name", "owner", "lock_version", "systems-TOTAL_FORMS"},
            fields["assessments:agent_edit"],
        )
        self.assertLessEqual({"since", "until", "tier"}, fields["assessments:board_pack_request"])
        self.assertLessEqual(
            {"decision", "lock_version", "comment"},
            fields["assessments:assessment_decide"],
        )
        self.assertLessEqual({"actor", "since", "until"}, fields["assessments:audit_list"])

    def _fuzz_as(self, role: str, data: Any) -> None:
        if role == "anonymous":
            self.client.logout()
        else:
            self.client.force_login(self.users[role])
        for name, method, path, names in self.pages:
            pairs = [
                (field, value)
                for field in names
                for value in data.draw(field_values, label=f"{name} {field}")
            ]
            body = _encode(pairs)
            if method == "get":
                response = self.client.get(f"{path}?{body}")
            else:  # the form, and a few of its fields in the query string as well
                path = f"{path}?{_encode(pairs[:3])}"
                response = self.client.generic(
                    "POST",
                    path,
                    body.encode("ascii"),
                    content_type="application/x-www-form-urlencoded",
                )
            self.assertLess(response.status_code, 500, f"{role} {method.upper()} {path[:300]}")
        report = verify_chain()
        self.assertTrue(report.ok, report)


def _role_test(role: str) -> Any:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test(self: FuzzTests, data: Any) -> None:
        self._fuzz_as(role, data)

    test.__name__ = f"test_every_page_survives_hostile_input_as_{role}"
    return test


for _role in ROLES:
    setattr(FuzzTests, f"test_every_page_survives_hostile_input_as_{_role}", _role_test(_role))


# --------------------------------------------------------------------------- scoped, no team

_SCOPED = {"TEAM_SCOPED_READING": True, "TEAM_SCOPED_EDITING": True}


def _scoped_role_test(role: str) -> Any:
    """Every page with editing and reading scoped, as the access table's people, who are
    in no team (as new SSO users land): nothing may fail on an empty scope."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test(self: FuzzTests, data: Any) -> None:
        with override_settings(**_SCOPED):
            self.assertFalse(self.users[role].teams.exists()) if role != "anonymous" else None
            self._fuzz_as(role, data)

    test.__name__ = f"test_every_page_survives_hostile_input_scoped_in_no_team_as_{role}"
    return test


for _role in ROLES:
    setattr(
        FuzzTests,
        f"test_every_page_survives_hostile_input_scoped_in_no_team_as_{_role}",
        _scoped_role_test(_role),
    )


# --------------------------------------------------------------------------- the API

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from([h for h in HOSTILE if "\ud800" not in h and "\udfff" not in h]),
    st.text(max_size=20),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def partial(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """JSON shaped like ``schema`` but partial: any key of an object may be left out,
    nested objects too (a system without ``access``, a link without ``other``), and any
    value may be of the wrong type."""
    schema = _resolve(schema, components)
    wrong = ANY_JSON if depth < 3 else JSON_SCALARS
    if "anyOf" in schema:
        return st.one_of(*(partial(s, components, depth + 1) for s in schema["anyOf"]), wrong)
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), wrong)
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        return st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    key: partial(value, components, depth + 1)
                    for key, value in schema["properties"].items()
                },
            ),
            wrong,
        )
    if kind == "array":
        return st.one_of(
            st.lists(partial(schema.get("items", {}), components, depth + 1), max_size=3), wrong
        )
    if kind == "integer":
        return st.one_of(st.integers(min_value=-1, max_value=5), wrong)
    if kind == "string" and schema.get("format") == "date":
        return st.one_of(st.dates().map(lambda d: d.isoformat()), wrong)
    return wrong


NOT_AN_OBJECT = st.one_of(
    st.lists(JSON_SCALARS, max_size=3), st.text(max_size=8), st.integers(), st.booleans()
)
NOT_A_LIST = st.one_of(
    st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2),
    st.text(max_size=8),
    st.integers(),
)
NOT_A_SCALAR = st.one_of(
    st.lists(JSON_SCALARS, max_size=2), st.dictionaries(st.text(max_size=5), JSON_SCALARS)
)


def _typed(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    """The one non-null shape ``schema`` allows, or None when it allows any value or
    several shapes (nothing is of the wrong type for it then)."""
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        shapes = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _typed(shapes[0], components) if len(shapes) == 1 else None
    return schema if schema.get("type") else None


def mistyped(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """JSON that is of the wrong type for ``schema`` somewhere: a list, string or number
    where an object is expected, an object or string where a list is, an object or list
    where a string, number or boolean is; at the top or nested (an object's property,
    a list's item). Null only where null is not allowed."""
    shape = _typed(schema, components)
    nullable = shape is not None and shape is not _resolve(schema, components)
    if shape is None:
        return st.nothing()
    kind = shape["type"]
    if kind == "object":
        here = NOT_AN_OBJECT if nullable else st.one_of(NOT_AN_OBJECT, st.none())
        props = {
            key: value
            for key, value in shape.get("properties", {}).items()
            if _typed(value, components) is not None
        }
        if depth >= 2 or not props:
            return here
        inner = st.sampled_from(sorted(props)).flatmap(
            lambda key: mistyped(props[key], components, depth + 1).map(lambda v: {key: v})
        )
        return st.one_of(here, inner)
    if kind == "array":
        here = NOT_A_LIST
        items = shape.get("items", {})
        if depth < 2 and _typed(items, components) is not None:
            inner = st.lists(mistyped(items, components, depth + 1), min_size=1, max_size=2)
            here = st.one_of(here, inner)
        return here if nullable else st.one_of(here, st.none())
    return NOT_A_SCALAR if nullable else st.one_of(NOT_A_SCALAR, st.none())


@override_settings(TASKS={"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}})
class ApiFuzzTests(TestCase):
    """Every API operation with a JSON body, sent partial nested objects and values of
    the wrong type by every role with every scope, unscoped and scoped with people in no
    team: never a 500, and the audit chain verifies."""

    setUpTestData = classmethod(AccessTableTests.setUpTestData.__func__)  # type: ignore[attr-defined]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        from assessments.api import api

        schema = api.get_openapi_schema()
        components = schema["components"]["schemas"]
        cls.operations = []
        cls.mistyped = []
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    cls.operations.append((method, path, partial(body["schema"], components)))
                    cls.mistyped.append((method, path, mistyped(body["schema"], components)))

    def _paths(self, path: str) -> str:
        review = self.objs["review"]
        return (
            path.replace("{slug}", self.objs["agent"].slug)
            .replace("{number}", "1")
            .replace("{review_id}", str(review.pk))
        )

    def _fuzz(self, data: Any) -> None:
        from assessments.actions.accounts import allowed_scopes
        from tests.api_helpers import token_for

        role = data.draw(st.sampled_from([r for r in ROLES if r not in ("anonymous", "outsider")]))
        user = self.users[role]
        headers = {"Authorization": f"Bearer {token_for(user, allowed_scopes(user))}"}
        for method, path, strategy in self.operations:
            body = data.draw(strategy, label=f"{method} {path}")
            import json

            response = self.client.generic(
                method.upper(),
                self._paths(path),
                json.dumps(body),
                content_type="application/json",
                headers=headers,
            )
            self.assertLess(response.status_code, 500, f"{role} {method} {path} {body!r:.300}")
        report = verify_chain()
        self.assertTrue(report.ok, report)

    @settings(
        max_examples=EXAMPLES * 4,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_partial_nested_objects_and_wrong_types_never_cause_a_server_error(self, data):
        self._fuzz(data)

    @settings(
        max_examples=EXAMPLES * 4,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_the_same_scoped_for_people_in_no_team(self, data):
        with override_settings(**_SCOPED):
            self._fuzz(data)

    def _send(self, method: str, path: str, body: Any) -> Any:
        import json

        from assessments.actions.accounts import allowed_scopes
        from tests.api_helpers import token_for

        if not hasattr(self, "_token"):
            user = self.users["administrator"]
            self._token = token_for(user, allowed_scopes(user))
        return self.client.generic(
            method.upper(),
            self._paths(path),
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self._token}"},
        )

    @settings(
        max_examples=EXAMPLES * 10,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_a_body_of_the_wrong_json_type_anywhere_is_a_422(self, data):
        self.__dict__.pop("_token", None)  # each example is its own transaction
        for method, path, strategy in self.mistyped:
            body = data.draw(strategy, label=f"{method} {path}")
            response = self._send(method, path, body)
            self.assertEqual(response.status_code, 422, f"{method} {path} {body!r:.300}")

    def test_a_list_string_or_number_where_an_object_is_expected_is_a_422(self):
        """The probe's ``POST /api/v1/board-packs`` with ``[null, null]`` answered 202."""
        self.assertTrue(self.mistyped)
        for method, path, _strategy in self.mistyped:
            for body in ([None, None], [], "board", 3, None, True):
                with self.subTest(operation=f"{method} {path}", body=body):
                    response = self._send(method, path, body)
                    self.assertEqual(response.status_code, 422, response.content[:300])
                    self.assertEqual(response["Content-Type"], "application/problem+json")
        agent = self.objs["agent"]
        agent.refresh_from_db()
        nested = [
            {"lock_version": agent.lock_version, "systems": [["crm", "admin"]]},
            {"lock_version": agent.lock_version, "links": ["other-agent"]},
            {"lock_version": agent.lock_version, "systems": "crm"},
            {"lock_version": agent.lock_version, "environments": "production"},
        ]
        for body in nested:
            with self.subTest(body=body):
                response = self._send("patch", f"/api/v1/agents/{agent.slug}", body)
                self.assertEqual(response.status_code, 422, response.content[:300])
        said = self._send("post", "/api/v1/board-packs", [None, None]).json()
        self.assertEqual(said["errors"][0]["message"], "Input should be a JSON object")

    def test_a_system_without_access_is_read_access_not_a_server_error(self):
        """The probe's 500: PATCH with a system lacking ``access``."""
        from assessments.actions.accounts import allowed_scopes
        from tests.api_helpers import ApiClient, token_for

        user = self.users["administrator"]
        agent = self.objs["agent"]
        agent.refresh_from_db()
        api = ApiClient(self.client, token_for(user, allowed_scopes(user)))
        response = api.patch(
            f"/agents/{agent.slug}",
            {"lock_version": agent.lock_version, "systems": [{"name": "crm"}]},
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(list(agent.systems.values_list("name", "access")), [("crm", "read")])
        response = api.patch(
            f"/agents/{agent.slug}",
            {"lock_version": agent.lock_version + 1, "links": [{"kind": "peer"}]},
        )
        self.assertEqual(response.status_code, 422, response.content)
