"""The scheduled work page: a month of what the schedules open, for those who read the
register and work the process; what opened links to its case."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient

from qmsflow.engine.persistence import schedules

from ..persistence.conftest import World
from ..persistence.test_schedules_run import seed
from .conftest import Auth, text_of


class TestSchedulesPage:
    def test_the_service_desk_sees_next_months_visits_to_open(
            self, client: FlaskClient, auth: Auth, world: World) -> None:
        # The world's clock says 2 March 2026: next month is April, when SN-0001 is due.
        seed(world)
        auth.login("service_desk")
        page = client.get("/scheduled")
        shown = text_of(page)
        assert page.status_code == 200
        assert "From 2026-04-01 to 2026-04-30" in shown
        assert "Maintenance visits" in shown and "SN-0001" in shown
        assert "2026-04-15" in shown and "To open" in shown

    def test_an_opened_visit_links_to_its_case(
            self, client: FlaskClient, auth: Auth, world: World) -> None:
        seed(world)
        world.clock.now = datetime(2026, 4, 15, 1, 0, tzinfo=UTC)
        number = schedules.run(world.service).opened[0].case_number
        auth.login("engineer")
        page = client.get("/scheduled", query_string={"month": "2026-04"})
        assert f'href="/cases/{number}"' in page.get_data(as_text=True)
        assert "To open" not in text_of(page)

    def test_the_page_speaks_chinese_to_a_chinese_reader(
            self, client: FlaskClient, auth: Auth, world: World) -> None:
        seed(world)
        auth.login("service_desk", locale="zh-CN")
        shown = text_of(client.get("/scheduled"))
        assert "定期上门回访" in shown and "待开立" in shown

    def test_a_role_that_works_no_scheduled_process_sees_none_and_no_link(
            self, client: FlaskClient, auth: Auth, world: World) -> None:
        seed(world)
        auth.login("finance")
        page = client.get("/scheduled")
        assert page.status_code == 200
        assert "SN-0001" not in text_of(page)
        assert "No scheduled work concerns your roles." in text_of(page)
        assert 'href="/scheduled"' not in page.get_data(as_text=True)

    def test_a_month_that_does_not_exist_is_refused_in_words(
            self, client: FlaskClient, auth: Auth, world: World) -> None:
        auth.login("service_desk")
        page = client.get("/scheduled", query_string={"month": "2026-13"})
        assert page.status_code == 400
        assert "The month asked for does not exist: write it as YYYY-MM" in text_of(page)
