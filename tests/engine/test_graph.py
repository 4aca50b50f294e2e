"""State diagrams: labels in the reader's language, boxes wide enough for Chinese."""

from __future__ import annotations

import re

from qmsflow.engine.graph import dot, mermaid, wrap
from qmsflow.engine.model import DefinitionSet


def test_a_diagram_for_people_names_roles_and_signature_meanings_by_their_labels(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    shown = dot(process, "zh-CN", default_set.organisation)
    # Wrapped at 8 Chinese characters, each line padded with a space per character (Viz.js
    # measures them narrower than they are drawn).
    assert ('approval -> reply [label="   核准处理方案   \\n   [销售部主管、副    \\n'
            '   总经理、总经理]    \\n ✍ 核准 "]') in shown
    assert "✍ 核准" in mermaid(process, "zh-CN", default_set.organisation)
    # Without the organisation (the CLI, for people who write the YAML): the ids.
    assert "[sales_manager,\\ndeputy_gm, gm]\\n✍ approved" in dot(process, "en")


def test_boxes_of_chinese_state_names_are_sized_for_full_width_characters(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    widths = dict(re.findall(r'(\w+) \[label="[^"]*", width=([\d.]+)', dot(process, "zh-CN")))
    english = dict(re.findall(r'(\w+) \[label="[^"]*", width=([\d.]+)', dot(process, "en")))
    label = process.states["gm_acceptance"].label
    assert len(label["zh-CN"]) < len(label["en"])
    assert float(widths["gm_acceptance"]) >= 0.21 * len(label["zh-CN"])
    assert float(english["closed"]) < float(widths["gm_acceptance"])


def test_labels_wrap_at_eight_chinese_or_sixteen_latin_characters() -> None:
    assert wrap("投诉不成立，待销售告知客户") == ["投诉不成立，待销", "售告知客户"]
    assert wrap("客户未接受，已重新立案") == ["客户未接受，已重", "新立案"]
    assert wrap("Waiting for the customer's reply") == ["Waiting for the", "customer's reply"]
    assert wrap("短") == ["短"]
    # Closing punctuation hangs at the end of the line rather than start the next one.
    assert wrap("一二三四五六七八，九") == ["一二三四五六七八，", "九"]


def test_the_diagram_is_drawn_top_down_and_highlights_the_current_state(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    shown = dot(process, "zh-CN", default_set.organisation, current="investigation")
    assert "rankdir=TB;" in shown
    (current,) = [line for line in shown.splitlines() if 'class="current"' in line]
    assert current.strip().startswith("investigation [")
    assert 'id="state-investigation"' in current
    assert 'class="current"' not in dot(process, "zh-CN", default_set.organisation)


def test_steps_offered_in_every_state_are_listed_once_not_looped_on_each_state(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    shown = dot(process, "zh-CN", default_set.organisation)
    assert shown.count("更正受理时间") == 1
    assert "anywhere_any [shape=note" in shown and "任一未结状态均可办理：" in shown
    assert len(re.findall(r" -> ", shown)) < 40
