"""Cases for report tests, taken through the real case service to their last state.

Each helper walks one case from intake to closure as the bundled definitions require (the
steps, roles and signatures of the scenarios), with the values a report counts chosen by the
test, and the clock set so that the case is finished at ``at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .conftest import COMPLAINT, PASSWORD, World

Step = tuple[str, str, Mapping[str, Any], bool, str | None]  # role, action, inputs, sign, reason


def _walk(world: World, number: str, steps: list[Step], at: datetime) -> str:
    """Take ``steps`` a minute apart, the last one at ``at``."""
    for index, (role, action, inputs, sign, reason) in enumerate(steps):
        world.clock.now = at - timedelta(minutes=len(steps) - 1 - index)
        world.service.apply_step(number, action, world.user(role), dict(inputs),
                                   password=PASSWORD if sign else None, reason=reason)
    return number


def _registered(world: World, at: datetime, values: Mapping[str, Any]) -> str:
    world.clock.now = at - timedelta(hours=2)
    case = world.service.create_case("complaint", "register", world.user("sales"),
                                     {**COMPLAINT, "quantity": 20, **values}, password=PASSWORD)
    return case.number


def _investigated(category: str) -> list[Step]:
    return [
        ("quality", "decide_reportability", {
            "report_cn": "not_reportable", "report_us": "not_reportable",
            "report_eu": "not_reportable", "reportability_rationale": "评估完毕。"}, True, None),
        ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "故障"},
         False, None),
        ("quality", "classify", {"category": category}, False, None),
        ("gm_office", "accept", {"joint_inspection": False}, False, None),
        ("quality", "report_investigation", {"investigated": True, "findings": "参数偏低。",
                                             "root_cause": "作业指导书过期。",
                                             "recall_needed": False}, True, None),
        ("gm", "gm_instruct", {"gm_instructions": "同意。"}, True, None),
    ]


def closed_complaint(world: World, at: datetime, *, category: str = "malfunction",
                     cause: str = "production", department: str = "production",
                     improvement: str = "open", **values: Any) -> str:
    """An established complaint closed at ``at``; its number."""
    number = _registered(world, at, values)
    steps = [
        *_investigated(category),
        ("quality", "judge_responsibility", {
            "established": True, "responsible_department": department, "cause": cause,
            "improvement_tracked": True, "improvement_status": improvement}, False, None),
        ("technical", "propose_plan", {"countermeasure": "重新设置参数。", "handling": ["repair"]},
         False, None),
        # A plan without money goes to the manager's office (送经理室批示).
        ("deputy_gm", "approve_plan", {}, True, None),
        ("sales", "record_reply", {"reply_method": "letter", "reply_summary": "已答复。",
                                   "customer_accepts": True}, False, None),
        ("quality_manager", "close", {}, True, None),
    ]
    return _walk(world, number, steps, at)


def not_established_complaint(world: World, at: datetime, *, category: str = "malfunction",
                              **values: Any) -> str:
    """A complaint found not established at ``at``; its number."""
    number = _registered(world, at, values)
    steps = [*_investigated(category),
             ("quality_manager", "declare_not_established", {}, True, "客户未按说明书操作。"),
             ("sales", "confirm_not_established", {"receivables_note": "已告知客户，按期收款。"},
              True, None)]
    return _walk(world, number, steps, at)


def complaint_in_investigation(world: World, at: datetime, **values: Any) -> str:
    """A complaint still being investigated at ``at`` (open: no report counts it yet)."""
    number = _registered(world, at, values)
    return _walk(world, number, _investigated("malfunction")[:4], at)


SERVICE_REQUEST = {
    "channel": "phone", "customer_org": "市第一人民医院", "hospital_department": "检验科",
    "contact_name": "刘医生", "contact_phone": "+86 21 5555 0100",
    "site_address": "上海市黄浦区示例路 1 号", "location_zone": "city",
    "product_model": "XR-200", "serial_number": "SN26-00017", "under_warranty": True,
    "description": "开机后屏幕提示参数配置错误。", "emergency_equipment": False,
    "severity": "usable", "patient_involved": False,
}
GOOD = {"rating_attitude": "very_satisfied", "rating_skill": "satisfied",
        "rating_arrival": "very_satisfied", "rating_promise": "satisfied"}
POOR = {"rating_attitude": "fair", "rating_skill": "satisfied",
        "rating_arrival": "dissatisfied", "rating_promise": "dissatisfied"}


def closed_service_request(world: World, at: datetime, *, satisfied: bool = True,
                           complaint: bool = False, late: bool = False,
                           engineer: str | None = None) -> str:
    """A service request closed at ``at``: fixed remotely, or on site by ``engineer`` (a
    role's user id); ``late`` opens it days before (its first answer comes after the response
    deadline; otherwise within the hour: ``at`` should be in working hours); a dissatisfied
    customer goes to the deputy GM (flag escalated_to_deputy_gm). Its number."""
    start = at - (timedelta(days=4) if late else timedelta(hours=1))
    world.clock.now = start
    received = (start - timedelta(minutes=5)).isoformat()
    number = world.service.create_case("service_request", "report_fault",
                                       world.user("service_desk"),
                                       {**SERVICE_REQUEST, "received_at": received}).number
    steps: list[Step] = [("service_desk", "acknowledge", {}, False, None)]
    if engineer is None:
        steps.append(("technical", "resolve_remotely", {
            "remote_diagnosis": "参数配置文件损坏。", "remote_solution": "恢复出厂参数。",
            "customer_accepted": True, "service_type": "free", "service_hours": 0.5},
            True, None))
    else:
        steps += [
            ("technical", "escalate_on_site", {"remote_diagnosis": "需现场更换。",
                                               "fault_complexity": "minor"}, False, None),
            ("technical_manager", "dispatch_engineer", {
                "assigned_engineer": engineer, "customer_informed": True,
                "planned_arrival": (at - timedelta(minutes=30)).isoformat()}, False, None),
            ("engineer", "arrive", {}, False, None),
            ("engineer", "complete_on_site", {
                "serial_verified": True, "work_performed": "更换通讯板。",
                "test_data": "测试正常。", "service_type": "free", "customer_accepted": True,
                "customer_signatory": "王主任",
                "customer_signature": "signatures/acceptance.png"}, True, None),
        ]
    follow_up = {"follow_up_method": "phone", **(GOOD if satisfied else POOR)}
    if satisfied:
        steps.append(("service_desk", "record_follow_up", follow_up, False, None))
    else:
        steps += [("service_desk", "escalate_to_deputy_gm", follow_up, False, None),
                  ("deputy_gm", "deputy_gm_resolve", {
                      "gm_review_notes": "再培训。", "customer_reply_method": "letter",
                      "customer_reply_summary": "已致歉。"}, True, None)]
    closing: dict[str, Any] = {"is_complaint": complaint, "complaint_rationale": "已分析。"}
    if complaint:  # 客户抱怨率 counts the complaints that are the service's own fault
        closing["service_at_fault"] = True
    steps.append(("technical_manager", "close", closing, True, None))
    return _walk(world, number, steps, at)
