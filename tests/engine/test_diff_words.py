"""What a new definition version changes for users, said forward in their language."""

from __future__ import annotations

import pytest

from qmsflow.engine.diff_words import Said, told
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet

from ..conftest import EXAMPLE_SETS, EditSet

KANGNING = next(path for path in EXAMPLE_SETS if path.name == "kangning")
COMPLAINT = "processes/complaint.yaml"


@pytest.fixture(scope="module")
def kangning() -> DefinitionSet:
    return load(KANGNING)


def words(said: list[Said]) -> list[str]:
    return [item.words for item in said]


def test_identical_sets_tell_users_nothing(default_set: DefinitionSet) -> None:
    assert told(default_set, default_set, "zh-CN") == []


def test_a_shorter_deadline_is_said_forward_in_english_and_names_the_clock_it_moves(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    said = [s for s in told(default_set, kangning, "en") if s.area == "deadline"]
    assert said == [Said("deadline", "complaint", "changed",
                         "Deadline 'Closure deadline' (Domestic): 5 working days → "
                         "4 working days.", (("complaint", "closure"),))]


def test_a_shorter_deadline_is_said_in_chinese(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    assert "期限“结案期限”：国内 5 个工作日 → 4 个工作日。" in words(
        told(default_set, kangning, "zh-CN"))


def test_going_back_reads_the_other_way(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    assert "期限“结案期限”：国内 4 个工作日 → 5 个工作日。" in words(
        told(kangning, default_set, "zh-CN"))


def test_a_lower_authority_limit_names_the_role_by_its_label(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    assert ("Approval authority 'Handling-plan approval authority': the limit of Deputy "
            "general manager goes from 50,000 to 30,000.") in words(
        told(default_set, kangning, "en"))
    assert "核决权限“处理方案核决权限”：副总经理的限额由 50,000 改为 30,000。" in words(
        told(default_set, kangning, "zh-CN"))


def test_a_field_added_is_named_by_its_label_with_whether_it_is_required(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    assert "New field 'Hospital grade' (required)." in words(told(default_set, kangning, "en"))
    assert "新增字段“医院等级”（必填）。" in words(told(default_set, kangning, "zh-CN"))
    assert "删除字段“医院等级”。" in words(told(kangning, default_set, "zh-CN"))


def test_no_sentence_shows_an_id_path_or_json_path(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    for sentence in words(told(default_set, kangning, "zh-CN")):
        assert "$." not in sentence and "closure/" not in sentence and "deputy_gm" not in sentence


def test_a_calendar_closure_names_every_deadline_counted_on_that_calendar(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    closure = next(s for s in told(default_set, kangning, "zh-CN")
                   if s.words == "日历“cn_mainland”：新增公司休息日 2026-12-31。")
    assert ("complaint", "closure") in closure.clocks
    assert ("complaint", "response") in closure.clocks


def test_steps_given_to_other_roles_and_required_fields_are_said(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    changed = load(edited_set(
        (COMPLAINT, "    roles: [sales, quality]\n", "    roles: [sales]\n"),
        (COMPLAINT, "  - id: batch_number\n    type: text\n",
         "  - id: batch_number\n    type: text\n    required: true\n")))
    assert words(told(default_set, changed, "en")) == [
        "Field 'Batch / lot number' becomes required (was optional).",
        "Step 'Register complaint' is now done by Sales clerk (was Sales clerk, Quality "
        "engineer)."]
    assert words(told(default_set, changed, "zh-CN")) == [
        "字段“批号”由选填改为必填。",
        "步骤“登记投诉”改由销售人员办理（原为销售人员、质量工程师）。"]
