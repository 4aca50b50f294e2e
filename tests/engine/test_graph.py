"""State diagrams: labels in the reader's language, boxes wide enough for Chinese."""

from __future__ import annotations

import re

from qmsflow.engine.graph import dot, mermaid
from qmsflow.engine.model import DefinitionSet


def test_a_diagram_for_people_names_roles_and_signature_meanings_by_their_labels(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    shown = dot(process, "zh-CN", default_set.organisation)
    assert "核准处理方案 [销售部主管, 副总经理, 总经理] ✍ 核准" in shown
    assert "✍ 核准" in mermaid(process, "zh-CN", default_set.organisation)
    # Without the organisation (the CLI, for people who write the YAML): the ids.
    assert "[sales_manager, deputy_gm, gm] ✍ approved" in dot(process, "en")


def test_boxes_of_chinese_state_names_are_sized_for_full_width_characters(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    widths = dict(re.findall(r'(\w+) \[label="[^"]*", width=([\d.]+)', dot(process, "zh-CN")))
    english = dict(re.findall(r'(\w+) \[label="[^"]*", width=([\d.]+)', dot(process, "en")))
    label = process.states["gm_acceptance"].label
    assert len(label["zh-CN"]) < len(label["en"])
    assert float(widths["gm_acceptance"]) >= 0.21 * len(label["zh-CN"])
    assert float(english["closed"]) < float(widths["gm_acceptance"])
