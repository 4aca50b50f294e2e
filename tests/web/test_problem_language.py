"""Definition problems in the reader's language: the whole problem, not only its kind.

A quality administrator who reads Chinese edits a draft and sees each problem's message and hint
in Chinese, with the ids and values they typed kept as typed; in English every word is what
``qmsflow validate`` prints.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from qmsflow.engine.loader import check

from ..conftest import EditSet
from ..persistence.conftest import World
from .conftest import Auth, text_of
from .test_admin import upload, zipped
from .test_editor import COMPLAINT, _draft, _start

CALENDAR = "calendars/cn_mainland.yaml"


def _checked(client: FlaskClient, world: World, file: str, old: str, new: str,
             locale: str = "zh-CN") -> list[dict[str, Any]]:
    """The problems live validation reports for the served set with one edit in ``file``."""
    draft_id = _start(client)
    text = _draft(world, draft_id).files[file]
    assert old in text
    answer = client.post(f"/admin/drafts/{draft_id}/check",
                         json={"file": file, "text": text.replace(old, new, 1)}).get_json()
    assert answer["valid"] is False
    problems: list[dict[str, Any]] = answer["problems"]
    return problems


def test_an_unknown_key_is_said_in_chinese_with_the_typed_names_kept(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    problems = _checked(client, world, "set.yaml", "\nlabel:", "\nlabelz:")
    [problem] = [p for p in problems if p["code"] == "S002"]
    assert problem["message"] == "未知的键 'labelz'"
    assert problem["hint"] == "是否想写 'label'？"
    # The English words stay beside, as the command line prints them.
    assert problem["message_en"] == "unexpected key 'labelz'"
    assert problem["hint_en"] == "did you mean 'label'?"


def test_an_unknown_state_is_said_in_chinese_with_the_closest_state(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    problems = _checked(client, world, COMPLAINT, "    to: registered\n",
                        "    to: registred\n")
    said = {(p["code"], p["message"], p["hint"]) for p in problems}
    assert ("E201", "未知的状态 'registred'", "是否想写 'registered'？") in said


def test_a_value_of_the_wrong_type_is_said_in_chinese(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    problems = _checked(client, world, CALENDAR, "working_week: [mon, tue, wed, thu, fri]",
                        "working_week: 5")
    [wrong] = [p for p in problems if p["code"] == "S003"]
    assert wrong["message"] == "应为列表，实际是数字 5"


def test_a_yaml_syntax_error_is_said_in_chinese_where_the_bracket_opened(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    [problem] = _checked(client, world, CALENDAR, "working_week: [mon, tue, wed, thu, fri]",
                         "working_week: [mon, tue, wed, thu, fri")
    assert problem["code"] == "Y001"
    assert problem["message"].startswith("YAML 语法错误：")
    assert problem["hint"] == "请闭合此处打开的括号或引号"


def test_in_english_the_editor_says_exactly_what_the_command_line_prints(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="en")
    problems = _checked(client, world, COMPLAINT, "    to: registered\n",
                        "    to: registred\n", locale="en")
    assert problems
    for problem in problems:
        assert problem["message"] == problem["message_en"]
        assert problem["hint"] == problem["hint_en"]
    said = {(p["message"], p["hint"]) for p in problems}
    assert ("unknown state 'registred'", "did you mean 'registered'?") in said


def test_the_draft_page_lists_its_problems_in_chinese(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    draft_id = _start(client)
    text = _draft(world, draft_id).files["set.yaml"].replace("\nlabel:", "\nlabelz:", 1)
    client.post(f"/admin/drafts/{draft_id}/save", data={"file": "set.yaml", "text": text})
    page = html.unescape(text_of(client.get(f"/admin/drafts/{draft_id}")))
    assert "未知的键 'labelz' (是否想写 'label'？)" in page


@pytest.mark.parametrize(("locale", "said"), [
    ("zh-CN", "未知的角色 'qualty' (是否想写 'quality'？)"),
    ("en", "unknown role 'qualty' (did you mean 'quality'?)"),
])
def test_an_uploaded_set_is_reported_in_the_readers_language(
        client: FlaskClient, auth: Auth, edited_set: EditSet, locale: str, said: str) -> None:
    folder = edited_set(("processes/complaint.yaml", "roles: [sales, quality]",
                         "roles: [sales, qualty]"))
    auth.login("quality_manager", locale=locale)
    page = upload(client, "/admin/validate", zipped(folder))
    assert said in page
    # The location, code and path stay as the command line prints them.
    assert re.search(r"set/processes/complaint\.yaml:\d+:\d+ E201 \$\.\S+ ", page)
    if locale == "en":
        [problem] = check(folder)
        assert f"{problem.message} ({problem.hint})" == said


def test_a_mistyped_condition_is_said_in_chinese_with_how_to_write_it(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    problems = _checked(client, world, COMPLAINT, '    if: "is_complaint != false"\n',
                        '    if: "is_complaint = false"\n')
    [problem] = [p for p in problems if p["code"] == "X301"]
    assert problem["message"].startswith("表达式 'is_complaint = false'")
    assert problem["hint"] == "比较请用 =="
    assert problem["hint_en"] == "use == to compare"
    called = _checked(client, world, COMPLAINT, '    if: "is_complaint != false"\n',
                      '    if: "lipsum() != false"\n')
    [problem] = [p for p in called if p["code"] == "X301"]
    assert "不允许调用 'lipsum'：表达式只读取数据，不调用任何东西" in problem["message"]
