"""Read access, role x process x route: every screen and API call that reads a case answers
each role of the bundled set as the declared read rules say (the case, or 404 like a case that
does not exist), with personal data hidden where a rule hides it.

The routes are taken from the application's URL map: a new route that reads a case (it takes
a case number or a file) fails the test until it is listed here.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qmsflow.engine.access import Visibility, pii_fields
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import Filters, tokens
from qmsflow.web import uploads

from ..persistence.conftest import COMPLAINT
from .reading import expected
from .test_enforcement import Demo, _users, demo  # noqa: F401 - the module's demo database

PLACEHOLDERS = ("hidden (personal data)", "已隐藏（个人信息）")  # en, zh-CN (the demo's)
#: Every route that reads one case (by its number) or a file of one, and how the test asks it.
CASE_ROUTES = {"cases.case", "cases.act", "cases.printable", "cases.pdf", "cases.attachment",
               "cases.report_form", "cases.report_form_pdf", "cases.report_form_json",
               "cases.keep_report_form", "api.read_case", "api.act", "operations.resend",
               "cases.add_comment", "cases.watch"}
#: Routes that list or search cases, or show notifications about them.
LIST_ROUTES = {"cases.inbox", "api.list_cases"}


def test_every_route_that_reads_a_case_is_swept_here(demo: Demo) -> None:  # noqa: F811
    reading = {rule.endpoint for rule in demo.app.url_map.iter_rules()
               if {"number", "digest"} & set(rule.arguments)}
    assert reading == CASE_ROUTES, "list the new route in CASE_ROUTES and sweep it below"


@dataclass
class Sweep:
    """The demo database with an attached file and an API token for each role's user."""

    demo: Demo
    definition: DefinitionSet
    file: str  # the reference of a file held by one complaint
    file_case: str
    tokens: dict[str, str]

    def api(self, user: str, path: str) -> int:
        response = self.demo.clients[user].get(
            path, headers={"Authorization": f"Bearer {self.tokens[user]}"})
        return response.status_code


@pytest.fixture(scope="module")
def sweep(demo: Demo, default_set: DefinitionSet) -> Iterator[Sweep]:  # noqa: F811
    service = demo.runtime.service
    folder = Path(demo.app.config["UPLOAD_FOLDER"])
    reference = uploads.store(folder, io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf",
                              1 << 20, frozenset({"pdf"}))
    seller = next(u for u in _users(demo) if u.roles == ("sales",))
    values = {**COMPLAINT, "received_at": "2026-03-01T09:30:00+08:00", "evidence": reference}
    case = service.create_case("complaint", "register", seller.id, values,
                               password=seller.password)
    issued = {}
    with service.transaction() as session:
        for user in _users(demo):
            _row, issued[user.id] = tokens.issue(session, user.id, "read sweep", service.now())
    yield Sweep(demo, default_set, reference, case.number, issued)


def _samples(sweep: Sweep) -> list[str]:
    """A case of each process in each state the demo reached, and the one holding the file."""
    site = sweep.demo
    return [site.number_in(process, state) for process, state in sorted(site.summary.held)]


def test_every_role_reads_exactly_the_cases_its_rules_give_it_on_every_route(
        sweep: Sweep) -> None:
    site = sweep.demo
    numbers = [*_samples(sweep), sweep.file_case]
    wrong = []
    pdf_done: set[bool] = set()
    for user in _users(site):
        client = site.clients[user.id]
        for number in numbers:
            seen = expected(site.runtime.service, sweep.definition, user.id, number)
            status = 200 if seen.visible else 404
            found = site.runtime.service.read_case(number, history=False).case
            step = next(iter(sweep.definition.process(found.process).steps))
            got = {
                "page": client.get(f"/cases/{number}").status_code,
                "step form": client.get(f"/cases/{number}/do/{step}").status_code,
                "print": client.get(f"/cases/{number}/print").status_code,
                "api get": sweep.api(user.id, f"/api/v1/cases/{number}"),
            }
            if found.process == "regulatory_report":
                # Its form as a page and as JSON, and keeping a generated PDF: each answers
                # only a reader of the report (the form that does not apply: never).
                form = {"cn": "nmpa_adverse_event", "us": "fda_3500a",
                        "eu": "eu_mir"}[str(found.values["jurisdiction"])]
                got["form"] = client.get(f"/cases/{number}/forms/{form}").status_code
                got["form json"] = client.get(f"/cases/{number}/forms/{form}.json").status_code
                if not seen.visible:
                    got["keep form"] = client.post(f"/cases/{number}/forms/{form}/keep",
                                                   data={"reason": "x"}).status_code
            if seen.visible not in pdf_done:  # a PDF is slow: one readable, one not
                pdf_done.add(seen.visible)
                got["pdf"] = client.get(f"/cases/{number}/pdf").status_code
            wrong += [(user.id, number, route, status, code)
                      for route, code in got.items() if code != status]
            posted = client.post(f"/cases/{number}/do/{step}", data={"row_version": "1"})
            if not seen.visible and posted.status_code != 404:
                wrong.append((user.id, number, "step post", 404, posted.status_code))
            # Resending a survey invitation: a case the user may not read is not found.
            surveys = [*sweep.definition.process(found.process).surveys, "none"]
            resent = client.post(f"/cases/{number}/surveys/{surveys[0]}/resend")
            if not seen.visible and resent.status_code != 404:
                wrong.append((user.id, number, "survey resend", 404, resent.status_code))
            if not seen.visible:  # commenting: a case the user may not read is not found
                commented = client.post(f"/cases/{number}/comments", data={"comment": "x"})
                if commented.status_code != 404:
                    wrong.append((user.id, number, "comment", 404, commented.status_code))
            if not seen.visible:  # nobody watches a case they may not read
                watched = client.post(f"/cases/{number}/watch", data={"on": "1"})
                if watched.status_code != 404:
                    wrong.append((user.id, number, "watch", 404, watched.status_code))
    assert wrong == []


def test_a_file_downloads_only_for_a_reader_of_its_case(sweep: Sweep) -> None:
    site = sweep.demo
    for user in _users(site):
        seen = expected(site.runtime.service, sweep.definition, user.id, sweep.file_case)
        response = site.clients[user.id].get(f"/files/{sweep.file}")
        response.close()  # a sent file stays open until the response is closed
        assert response.status_code == (200 if seen.visible else 404), user.id


def test_lists_and_searches_hold_exactly_the_readable_cases(sweep: Sweep) -> None:
    site = sweep.demo
    service = site.runtime.service
    every = [c.number for c in service.list_cases(
        site.overseer, Filters(open=None, mine=False), per_page=500).rows]
    for user in _users(site):
        readable = {n for n in every
                    if expected(service, sweep.definition, user.id, n).visible}
        listed = service.list_cases(user.id, Filters(open=None, mine=False), per_page=500)
        assert {c.number for c in listed.rows} == readable, user.id
        assert listed.total == len(readable)
        api = site.clients[user.id].get(
            "/api/v1/cases?scope=all&status=all&per_page=200",
            headers={"Authorization": f"Bearer {sweep.tokens[user.id]}"})
        assert api.status_code == 200, api.json
        assert {c["number"] for c in api.json["cases"]} == readable, user.id
        page = site.clients[user.id].get("/?scope=all&status=all&q=%E5%B8%82").get_data(
            as_text=True)
        hidden_hits = [n for n in every if n not in readable and n in page]
        assert hidden_hits == [], user.id


def test_personal_data_is_hidden_on_page_print_and_api_where_a_rule_hides_it(
        sweep: Sweep) -> None:
    site = sweep.demo
    service = site.runtime.service
    closed = site.number_in("complaint", "closed")
    finance = next(u for u in _users(site) if u.roles == ("finance",))
    assert expected(service, sweep.definition, finance.id, closed) == Visibility(True, False)
    values = service.read_case(closed).case.values
    secrets = [str(values[name]) for name in pii_fields(sweep.definition.process("complaint"))
               if values.get(name)]
    assert secrets, "the site's closed complaint has personal data to hide"
    client = site.clients[finance.id]
    for path in (f"/cases/{closed}", f"/cases/{closed}/print"):
        page = client.get(path).get_data(as_text=True)
        assert any(p in page for p in PLACEHOLDERS), path
        assert not [s for s in secrets if s in page], path
    body = site.clients[finance.id].get(
        f"/api/v1/cases/{closed}", headers={"Authorization": f"Bearer {sweep.tokens[finance.id]}"}
    ).json
    assert body["personal_data_hidden"] is True
    assert not set(body["values"]) & pii_fields(sweep.definition.process("complaint"))
    quality = next(u for u in _users(site) if u.roles == ("quality",))
    whole = site.clients[quality.id].get(f"/cases/{closed}").get_data(as_text=True)
    assert not any(p in whole for p in PLACEHOLDERS) and all(s in whole for s in secrets)


def test_a_case_the_user_may_not_read_answers_like_one_that_does_not_exist(
        sweep: Sweep) -> None:
    site = sweep.demo
    engineer = next(u for u in _users(site) if u.roles == ("engineer",))
    hidden = sweep.file_case
    assert not expected(site.runtime.service, sweep.definition, engineer.id, hidden).visible
    client = site.clients[engineer.id]
    missing = "KS-1999-01-9999"
    one_page, other_page = client.get(f"/cases/{hidden}"), client.get(f"/cases/{missing}")
    assert one_page.status_code == other_page.status_code == 404
    assert one_page.get_data().split(b"<main")[1] == other_page.get_data().split(b"<main")[1]
    auth = {"Authorization": f"Bearer {sweep.tokens[engineer.id]}"}
    one = client.get(f"/api/v1/cases/{hidden}", headers=auth).json
    other = client.get(f"/api/v1/cases/{missing}", headers=auth).json
    assert one["detail"].replace(hidden, "N") == other["detail"].replace(missing, "N")
