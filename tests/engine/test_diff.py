"""Differences between two definition versions, in the words a quality administrator reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmsflow.engine.diff import AREAS, Change, deadline_changes, diff
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet, frozen_map

from ..conftest import DEFAULT_SET, EXAMPLE_SETS, EditSet

COMPLAINT = "processes/complaint.yaml"
CALENDAR = "calendars/cn_mainland.yaml"
ROUND_THE_CLOCK = "calendars/international.yaml"
KANGNING = next(path for path in EXAMPLE_SETS if path.name == "kangning")


@pytest.fixture(scope="module")
def kangning() -> DefinitionSet:
    return load(KANGNING)


def words(changes: list[Change]) -> list[str]:
    return [change.words for change in changes]


def edited(default_set: DefinitionSet, edited_set: EditSet, *edits: tuple[str, str, str]
           ) -> list[str]:
    """The words of the diff from the default set to a copy with ``edits`` applied."""
    return words(diff(default_set, load(edited_set(*edits))))


def test_identical_sets_have_no_differences_and_no_moved_deadlines(
        default_set: DefinitionSet) -> None:
    again = load(DEFAULT_SET)
    assert again is not default_set
    assert diff(default_set, again) == []
    assert deadline_changes(default_set, again) == set()


def test_every_change_the_kangning_set_makes_to_the_default_is_described(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    assert words(diff(default_set, kangning)) == [
        "transition 'register' (complaint): inputs: added hospital_grade",
        "field 'hospital_grade' (complaint) added: Hospital grade (choice, required)",
        "category 'quality/sterility' (complaint) added: Sterile packaging breached (Q-09)",
        "deadline 'closure/domestic' (complaint): duration changed from 5 working days to "
        "4 working days",
        "authority tier 'compensation/deputy_gm' (complaint): limit changed from 50,000 to "
        "30,000",
        "calendar 'cn_mainland': company closures: added 2026-12-31",
        "calendar 'cn_mainland': extra working days: added 2026-11-28",
        "form section 'intake/complainant' (complaint): label changed from 'Complainant' to "
        "'Customer and contact'",
        "form section 'intake/complainant' (complaint): fields: added hospital_grade",
        "read access of role 'finance' (complaint): cases read changed from all in closed "
        "(personal data hidden) to all in approval, closed, closing, reply (personal data "
        "hidden)",
    ]


def test_going_back_from_kangning_to_the_default_describes_each_removal(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    said = words(diff(kangning, default_set))
    assert "field 'hospital_grade' (complaint) removed" in said
    assert "category 'quality/sterility' (complaint) removed" in said
    assert "calendar 'cn_mainland': company closures: removed 2026-12-31" in said
    assert "calendar 'cn_mainland': extra working days: removed 2026-11-28" in said
    assert ("authority tier 'compensation/deputy_gm' (complaint): limit changed from 30,000 to "
            "50,000") in said


def test_changes_are_sorted_by_area_then_process_then_subject(
        default_set: DefinitionSet, kangning: DefinitionSet) -> None:
    changes = diff(default_set, kangning)
    keys = [(AREAS.index(c.area), c.process or "", c.subject) for c in changes]
    assert keys == sorted(keys)
    assert [(c.area, c.process, c.kind, c.subject) for c in changes[:4]] == [
        ("transition", "complaint", "changed", "register"),
        ("field", "complaint", "added", "hospital_grade"),
        ("category", "complaint", "added", "quality/sterility"),
        ("deadline", "complaint", "changed", "closure/domestic"),
    ]
    assert changes[5].process is None  # a calendar belongs to the whole set


def test_a_process_added_or_removed_is_named_with_its_label(default_set: DefinitionSet) -> None:
    only_complaints = replace(default_set, processes=frozen_map(
        {key: process for key, process in default_set.processes.items()
         if key != "service_request"}))
    removed = diff(default_set, only_complaints)
    assert [(c.area, c.process, c.kind, c.words) for c in removed] == [
        ("process", "service_request", "removed", "process 'service_request' removed")]
    added = diff(only_complaints, default_set)
    label = default_set.processes["service_request"].label["en"]
    assert words(added) == [f"process 'service_request' added: {label}"]


def test_a_new_case_number_format_is_shown_before_and_after(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    assert edited(default_set, edited_set, (COMPLAINT, 'format: "KS-', 'format: "CP-')) == [
        "process 'complaint': case number format changed from KS-{year}-{month}-{seq:04} to "
        "CP-{year}-{month}-{seq:04}"]


def test_a_new_final_state_and_the_step_into_it_are_added(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    state = ("  - id: superseded\n",
             "  - id: withdrawn\n    label: {zh-CN: 已撤回, en: Withdrawn}\n    final: true\n"
             "  - id: superseded\n")
    step = ("transitions:\n",
            "transitions:\n  - id: withdraw\n    label: {zh-CN: 撤回, en: Withdraw}\n"
            "    from: [registered]\n    to: withdrawn\n    roles: [quality_manager]\n")
    said = edited(default_set, edited_set, (COMPLAINT, *state), (COMPLAINT, *step))
    assert said == ["state 'withdrawn' (complaint) added: Withdrawn",
                    "transition 'withdraw' (complaint) added: Withdraw, from registered to "
                    "withdrawn"]


def test_a_state_with_a_new_owner_and_no_routing_says_both(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT, "owner: sales_manager\n    route_by: compensation\n",
        "owner: deputy_gm\n"))
    assert said == ["state 'approval' (complaint): owner changed from sales_manager to deputy_gm",
                    "state 'approval' (complaint): routing by authority changed from "
                    "compensation to none"]


def test_a_label_changed_only_in_chinese_names_the_locale(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (COMPLAINT, "zh-CN: 已登记,", "zh-CN: 已受理,"))
    assert said == ["state 'registered' (complaint): label (zh-CN) changed from '已登记' to "
                    "'已受理'"]


def test_who_may_take_a_step_and_how_it_is_signed_are_described(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT,
        "    roles: [quality_manager]\n    signature: closed\n    not_by: [approve_plan]\n",
        "    roles: [quality_manager, gm]\n    signature: approved\n"
        "    not_by: [approve_plan, register]\n    reason_required: true\n"))
    assert said == [
        "transition 'close' (complaint): roles changed from quality_manager to "
        "quality_manager, gm",
        "transition 'close' (complaint): signature meaning changed from closed to approved",
        "transition 'close' (complaint): separation of duties (not by) changed from "
        "approve_plan to approve_plan, register",
        "transition 'close' (complaint): reason required changed from no to yes",
    ]


def test_a_step_condition_and_target_are_quoted_from_the_definitions(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set,
                  (COMPLAINT, 'if: "is_complaint != false"', 'if: "is_complaint == true"'),
                  (COMPLAINT, "    from: [waiting_customer]\n    to: investigation\n",
                   "    from: [waiting_customer]\n    to: responsibility\n"))
    assert said == [
        "transition 'confirm_complaint' (complaint): condition changed from "
        "\"is_complaint != false\" to \"is_complaint == true\"",
        "transition 'customer_responded' (complaint): to state changed from investigation to "
        "responsibility",
    ]


def test_inputs_added_removed_and_made_conditional_are_listed_in_one_sentence(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT, "    form: screening\n    inputs:\n      - {id: is_complaint, required: true}\n"
        "      - screening_rationale\n",
        "    inputs:\n      - {id: is_complaint, required: \"channel == 'phone'\"}\n"
        "      - event_date\n"))
    assert said == [
        "transition 'confirm_complaint' (complaint): inputs: added event_date; removed "
        "screening_rationale; is_complaint changed from required to required when "
        "\"channel == 'phone'\"",
        "transition 'confirm_complaint' (complaint): form changed from screening to none"]


def test_effects_are_summarised_by_their_kinds(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT,
        '      - notify: {template: closed, to: ["role:sales", "role:finance"]}\n',
        '      - notify: {template: closed, to: ["role:sales"]}\n'
        "      - flag: {add: [overdue]}\n"))
    assert said == ["transition 'declare_not_established' (complaint): effects changed: "
                    "notify changed; added flag"]


def test_field_rules_are_described_before_and_after(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(
        default_set, edited_set,
        (COMPLAINT, "    max_length: 200\n", "    max_length: 300\n"),
        (COMPLAINT, "en: E-mail}\n    pii: true", "en: E-mail}\n    pii: false"),
        (COMPLAINT, "      - {id: visit, label: {zh-CN: 来访, en: Visit}}\n",
         "      - {id: fax, label: {zh-CN: 传真, en: Fax}}\n"),
        (COMPLAINT, "en: Quantity}\n    min: 1", "en: Quantity}\n    min: 2"),
        (COMPLAINT, "required: \"market == 'international'\"", "required: true"),
        (COMPLAINT, "type: text\n    label: {zh-CN: 订单编号, en: Order number}",
         "type: long_text\n    label: {zh-CN: 订单编号, en: Order number}\n"
         "    pattern: \"^[A-Z0-9-]+$\""))
    assert said == [
        # An input follows its field's requirement unless the step says otherwise.
        "transition 'register' (complaint): inputs: country changed from required when "
        "\"market == 'international'\" to required",
        "field 'channel' (complaint): choices: added fax; removed visit",
        "field 'complainant_email' (complaint): personal data (pii) changed from yes to no",
        "field 'complainant_org' (complaint): maximum length changed from 200 to 300",
        "field 'country' (complaint): requirement changed from required when "
        "\"market == 'international'\" to required",
        "field 'order_number' (complaint): type changed from text to long_text",
        "field 'order_number' (complaint): pattern changed from none to ^[A-Z0-9-]+$",
        "field 'quantity' (complaint): minimum changed from 1 to 2",
    ]


def test_a_category_with_a_new_priority_department_and_required_field(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT, "en: Performance}\n    priority: medium\n    department: technical\n",
        "en: Performance}\n    priority: high\n    department: quality\n"
        "    required_fields: [serial_number]\n"))
    assert said == [
        "category 'performance' (complaint): default priority changed from medium to high",
        "category 'performance' (complaint): responsible department changed from technical "
        "to quality",
        "category 'performance' (complaint): required fields: added serial_number",
    ]


def test_a_priority_rule_is_described_by_its_id_and_condition(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set,
                  (COMPLAINT, "hit_policy: FIRST", "hit_policy: PRIORITY"),
                  (COMPLAINT, "when: {defective_quantity: {min: 10}}\n      priority: high\n",
                   "when: {defective_quantity: {min: 5}}\n      priority: high\n"
                   "      flags: [assessment_required]\n"))
    assert said == [
        "priority rules (complaint): hit policy changed from FIRST to PRIORITY",
        "priority rule 'large_quantity' (complaint): condition changed from "
        "defective_quantity at least 10 to defective_quantity at least 5",
        "priority rule 'large_quantity' (complaint): flags: added assessment_required",
    ]


def test_priority_rows_added_removed_and_reordered(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    potential = ("    - id: potential_harm\n"
                 "      label: {zh-CN: 可能导致伤害, en: Could have caused harm}\n"
                 "      when: {patient_harm: potential}\n"
                 "      priority: high\n      flags: [assessment_required]\n")
    added = ("    - id: recall\n      label: {zh-CN: 召回, en: Recall}\n"
             "      if: \"recall_needed\"\n      priority: high\n      flags: [reportable]\n")
    said = edited(default_set, edited_set, (COMPLAINT, potential, ""),
                  (COMPLAINT, "    - id: death_or_serious_injury\n",
                   added + "    - id: death_or_serious_injury\n"))
    assert said == [
        "priority rule 'potential_harm' (complaint) removed",
        "priority rule 'recall' (complaint) added: row 1, when \"recall_needed\", priority "
        "high, flags reportable",
    ]
    swapped = edited(default_set, edited_set, (COMPLAINT, potential, ""),
                     (COMPLAINT, "    - id: large_quantity\n", potential +
                      "    - id: large_quantity\n"))
    assert swapped == ["priority rules (complaint): order changed from "
                       "death_or_serious_injury, potential_harm, safety_category, "
                       "large_quantity to death_or_serious_injury, safety_category, "
                       "potential_harm, large_quantity"]


def test_a_shorter_domestic_deadline_is_described_in_working_days(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    shorter = load(edited_set((COMPLAINT, "duration: {working_days: 5}",
                               "duration: {working_days: 4}")))
    assert diff(default_set, shorter) == [Change(
        "deadline", "complaint", "changed", "closure/domestic",
        "deadline 'closure/domestic' (complaint): duration changed from 5 working days to "
        "4 working days")]
    assert deadline_changes(default_set, shorter) == {("complaint", "closure")}


def test_an_earlier_warning_is_described_but_moves_no_due_time(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    earlier = load(edited_set((COMPLAINT, "warn_before: {working_days: 1}",
                               "warn_before: {working_hours: 4}")))
    assert words(diff(default_set, earlier)) == [
        "deadline 'closure/domestic' (complaint): warning before the due time changed from "
        "1 working day to 4 working hours"]
    assert deadline_changes(default_set, earlier) == set()


def test_a_variant_on_another_calendar_or_condition_moves_its_clock(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    changed = load(edited_set((
        COMPLAINT, "if: \"market == 'domestic'\"\n        duration: {working_days: 5}\n",
        "if: \"market == 'domestic' and country is none\"\n        duration: "
        "{working_days: 5}\n        calendar: round_the_clock\n")))
    assert words(diff(default_set, changed)) == [
        "deadline 'closure/domestic' (complaint): condition changed from "
        "\"market == 'domestic'\" to \"market == 'domestic' and country is none\"",
        "deadline 'closure/domestic' (complaint): calendar changed from cn_mainland to "
        "round_the_clock"]
    assert deadline_changes(default_set, changed) == {("complaint", "closure")}


def test_deadlines_and_variants_added_and_removed(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    clock = ("  - id: first_contact\n    label: {zh-CN: 首次联系, en: First contact}\n"
             "    start_on: [register]\n    stop_on: [confirm_complaint]\n    variants:\n"
             "      - {id: standard, duration: {working_hours: 8}}\n")
    variant = ("      - id: hong_kong\n        if: \"country == 'HK'\"\n"
               "        duration: {working_days: 6}\n      - id: international\n")
    serious = ("      - id: serious_injury\n        if: \"(patient_harm == 'serious_injury' or "
               "report_cn == 'reportable') and report_cn != 'not_reportable'\"\n"
               "        duration: {calendar_days: 20}\n        calendar: round_the_clock\n"
               "        warn_before: {calendar_days: 5}\n")
    new = load(edited_set((COMPLAINT, "\nforms:\n", f"{clock}\nforms:\n"),
                          (COMPLAINT, "      - id: international\n", variant),
                          (COMPLAINT, serious, "")))
    assert words(diff(default_set, new)) == [
        "deadline 'closure/hong_kong' (complaint) added: 6 working days when "
        "\"country == 'HK'\" on calendar cn_mainland",
        "deadline 'first_contact' (complaint) added: 8 working hours on calendar cn_mainland",
        "deadline 'regulatory_report/serious_injury' (complaint) removed",
    ]
    assert deadline_changes(default_set, new) == {("complaint", "closure"),
                                                  ("complaint", "regulatory_report")}


def test_authority_tiers_added_removed_and_limits_with_thousands_separators(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set, (
        COMPLAINT, "      - id: department_head\n        role: sales_manager\n"
                   "        limit: 5000\n",
        "      - id: team_lead\n        role: sales_manager\n        limit: 3000\n"),
        (COMPLAINT, "limit: 50000", "limit: 1234567.5"))
    assert said == [
        "authority tier 'compensation/department_head' (complaint) removed",
        "authority tier 'compensation/deputy_gm' (complaint): limit changed from 50,000 to "
        "1,234,567.5",
        "authority tier 'compensation/team_lead' (complaint) added: role sales_manager, "
        "limit 3,000",
    ]


def test_new_working_hours_move_every_deadline_on_that_calendar(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    later = load(edited_set((CALENDAR, '{from: "08:30", to: "12:00"}',
                             '{from: "09:00", to: "12:00"}')))
    assert words(diff(default_set, later)) == [
        "calendar 'cn_mainland': working hours changed from 08:30-12:00, 13:00-17:30 to "
        "09:00-12:00, 13:00-17:30"]
    moved = deadline_changes(default_set, later)
    assert {("complaint", "closure"), ("complaint", "investigation_report")} <= moved
    assert ("complaint", "regulatory_report") not in moved  # round the clock only


def test_a_round_the_clock_calendar_in_another_time_zone_moves_its_deadlines(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    moved = load(edited_set((ROUND_THE_CLOCK, "timezone: Asia/Shanghai", "timezone: UTC")))
    assert words(diff(default_set, moved)) == [
        "calendar 'round_the_clock': time zone changed from Asia/Shanghai to UTC"]
    assert {("complaint", "regulatory_report"), ("complaint", "closure")} <= (
        deadline_changes(default_set, moved))
    assert ("complaint", "investigation_report") not in deadline_changes(default_set, moved)


def test_official_holidays_are_described_by_year_and_day(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    declared = ("official_years:\n  - year: 2027\n    source: notice\n"
                "    holidays: [2027-01-01, {days}]\n    working_days: [2027-02-07]\n")
    first = load(edited_set((CALENDAR, "closures: []\n",
                             "closures: []\n" + declared.format(days="2027-02-11"))))
    assert words(diff(default_set, first)) == [
        "calendar 'cn_mainland': official holidays for 2027 added"]
    second = load(edited_set((CALENDAR, "closures: []\n",
                              "closures: []\n" + declared.format(days="2027-02-12"))))
    assert words(diff(first, second)) == [
        "calendar 'cn_mainland': official holidays for 2027: public holidays: added 2027-02-12; "
        "removed 2027-02-11"]
    assert ("complaint", "closure") in deadline_changes(first, second)


def test_requiring_official_data_only_flags_deadlines_and_moves_none(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    relaxed = load(edited_set((CALENDAR, "require_official_data: true",
                               "require_official_data: false")))
    assert words(diff(default_set, relaxed)) == [
        "calendar 'cn_mainland': official holiday data required changed from yes to no"]
    assert deadline_changes(default_set, relaxed) == set()


def test_form_sections_added_removed_and_changed_are_named_by_form_and_section(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    renamed = ("      - id: compensation\n        label: {zh-CN: 补偿, en: Compensation}\n",
               "      - id: money\n        label: {zh-CN: 补偿, en: Compensation}\n")
    said = edited(default_set, edited_set,
                  (COMPLAINT, "Product}\n        columns: 3", "Product}\n        columns: 2"),
                  (COMPLAINT, *renamed),
                  (COMPLAINT, "plan_main, compensation,", "plan_main, money,"))
    assert said == [
        "form section 'intake/product' (complaint): columns changed from 3 to 2",
        "form section 'plan/compensation' (complaint) removed",
        "form section 'plan/money' (complaint) added: Compensation",
        "print layout 'print' (complaint): sections: added money; removed compensation",
    ]


def test_organisation_roles_added_and_removed(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    auditor = load(edited_set(("organisation.yaml", "roles:\n",
                               "roles:\n  - id: auditor\n    label: {zh-CN: 审核员, en: Auditor}\n"
                               "    department: quality\n")))
    assert [(c.area, c.process, c.words) for c in diff(default_set, auditor)] == [
        ("organisation", None, "role 'auditor' added: Auditor")]
    assert words(diff(default_set, load(edited_set(("organisation.yaml", "locales: [zh-CN, en]",
                                                    "locales: [en, zh-CN]"))))) == [
        "organisation: locales changed from zh-CN, en to en, zh-CN"]
    assert words(diff(auditor, default_set)) == ["role 'auditor' removed"]


def test_notification_templates_and_reports_say_what_changed(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    said = edited(default_set, edited_set,
                  ("notifications.yaml", 'en: "{{ case.number }} is overdue"',
                   'en: "Overdue: {{ case.number }}"'),
                  ("reports.yaml", "due_day: 10", "due_day: 5"))
    assert said == [
        "notification template 'overdue': subject changed from '{{ case.number }} is overdue' "
        "to 'Overdue: {{ case.number }}'",
        "report 'monthly_complaints': due day changed from 10 to 5",
    ]


def test_reordered_variants_are_described_and_move_their_clock(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    death = ("      - id: death\n        if: \"patient_harm == 'death' and report_cn != "
             "'not_reportable'\"\n"
             "        duration: {calendar_days: 7}\n        calendar: round_the_clock\n"
             "        warn_before: {calendar_days: 2}\n")
    serious = ("      - id: serious_injury\n        if: \"(patient_harm == 'serious_injury' or "
               "report_cn == 'reportable') and report_cn != 'not_reportable'\"\n"
               "        duration: {calendar_days: 20}\n        calendar: round_the_clock\n"
               "        warn_before: {calendar_days: 5}\n")
    swapped = load(edited_set((COMPLAINT, death, ""), (COMPLAINT, serious, serious + death)))
    assert words(diff(default_set, swapped)) == [
        "deadline 'regulatory_report' (complaint): variant order changed from group_event, "
        "overseas, death, serious_injury to group_event, overseas, serious_injury, death"]
    assert deadline_changes(default_set, swapped) == {("complaint", "regulatory_report")}


SERVICE = "processes/service_request.yaml"
DISPATCH_MESSAGE = ("message: {zh-CN: 派工前须告知客户派何人、何时到达。, en: \"Tell the customer "
                    "who comes and when before dispatching.\"}")


def test_a_step_condition_message_changed_added_or_removed_is_described(
        default_set: DefinitionSet, edited_set: EditSet) -> None:
    changed = edited(default_set, edited_set, (SERVICE, DISPATCH_MESSAGE, DISPATCH_MESSAGE.replace(
        "Tell the customer who comes and when", "Call the customer")))
    assert changed == [
        "transition 'dispatch_engineer' (service_request): message when the condition does not "
        "hold changed from 'Tell the customer who comes and when before dispatching.' to "
        "'Call the customer before dispatching.'"]
    removed = edited(default_set, edited_set, (
        SERVICE, f'if:\n      expr: "customer_informed"\n      {DISPATCH_MESSAGE}',
        'if: "customer_informed"'))
    assert removed == [
        "transition 'dispatch_engineer' (service_request): message when the condition does not "
        "hold removed: 'Tell the customer who comes and when before dispatching.'"]
    added = edited(default_set, edited_set, (
        COMPLAINT, 'if: "is_complaint != false"',
        'if: {expr: "is_complaint != false", message: {zh-CN: 不属于投诉, en: Not a complaint}}'))
    assert added == [
        "transition 'confirm_complaint' (complaint): message when the condition does not hold "
        "added: 'Not a complaint'"]


def test_a_report_form_change_is_told_down_to_the_field_that_fills_it(
        default_set: DefinitionSet) -> None:
    form = default_set.report_forms["eu_mir"]
    parts = list(form.parts)
    items = list(parts[1].items)
    items[1] = replace(items[1], source=None)
    parts[1] = replace(parts[1], items=tuple(items))
    changed = replace(default_set, report_forms=frozen_map({
        **default_set.report_forms, "eu_mir": replace(form, parts=tuple(parts))}))
    assert [(c.area, c.subject, c.words) for c in diff(default_set, changed)] == [
        ("report form", "eu_mir/srn",
         "field 'eu_mir/srn': case field that fills it changed from holder_srn to none")]
