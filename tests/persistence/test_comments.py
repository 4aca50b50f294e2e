"""Comments on a case: part of its audited record, telling the people they mention."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import Conflict, audit
from qmsflow.engine.persistence.models import OutboxMessage

from .conftest import World, open_complaint


def test_a_comment_is_an_entry_of_the_cases_trail_and_the_trail_still_verifies(
        world: World) -> None:
    number = open_complaint(world).number
    before = world.service.read_case(number).case.row_version
    world.service.comment(number, world.user("quality"), "请销售确认客户是否已收到备件。")
    found = world.service.read_case(number)
    [entry] = [e for e in found.events if e.action == "comment"]
    assert entry.new == "请销售确认客户是否已收到备件。"
    assert entry.actor_name == "Quality User"
    assert found.case.row_version == before + 1  # the row holds the trail's last link
    with world.database.sessions() as session:
        _, breaks = audit.verify(session)
    assert breaks == []


def test_a_step_from_a_form_opened_before_a_comment_goes_through(world: World) -> None:
    number = open_complaint(world).number
    opened = world.service.read_case(number).case.row_version  # the form carries it
    world.service.comment(number, world.user("sales"), "客户来电催问进度。")
    world.service.comment(number, world.user("quality_manager"), "已知悉。")
    done = world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                                    {"is_complaint": True, "screening_rationale": "设备故障"},
                                    expected_version=opened)
    assert done.state == "classification"
    with world.database.sessions() as session:
        assert audit.verify(session)[1] == []


def test_a_form_opened_before_a_real_change_still_conflicts_comments_or_not(
        world: World) -> None:
    number = open_complaint(world).number
    opened = world.service.read_case(number).case.row_version
    world.service.comment(number, world.user("sales"), "客户来电催问进度。")
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    world.service.comment(number, world.user("sales"), "再次催问。")
    with pytest.raises(Conflict, match="changed since you opened it"):
        world.service.apply_step(number, "classify", world.user("quality"), {},
                                 expected_version=opened)


def test_a_mention_tells_only_people_who_may_read_the_case(world: World) -> None:
    number = open_complaint(world).number
    quality, finance = world.user("quality_manager"), world.user("finance")
    done = world.service.comment(
        number, world.user("quality"), "请复核", mentions=[quality, finance, "nobody"],
        word=lambda user: (f"{user.name}: mentioned", "请复核"))
    assert done.told == (quality,)
    assert set(done.untold) == {finance, "nobody"}  # finance reads closed complaints only
    with world.database.sessions() as session:
        notices = session.execute(select(OutboxMessage).where(
            OutboxMessage.template == "(mention)")).scalars().all()
    assert [(n.user_id, n.subject, n.channel, n.status) for n in notices] == [
        (quality, "Quality_Manager User: mentioned", "in_app", "unread")]


def test_an_empty_comment_is_refused_and_leaves_no_trace(world: World) -> None:
    number = open_complaint(world).number
    with pytest.raises(Refused, match="needs some text"):
        world.service.comment(number, world.user("quality"), "   ")
    assert not [e for e in world.service.read_case(number).events if e.action == "comment"]
