"""forms.js in a real browser: sections and fields show, hide and disable as the user types."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader
from markupsafe import escape

from qmsflow.engine.model import DefinitionSet
from qmsflow.forms import build_form

from ..conftest import ROOT

pytestmark = pytest.mark.slow

SCRIPT = (ROOT / "web" / "static" / "js" / "forms.js").read_text(encoding="utf-8")


def page_for(browser: Any, definition: DefinitionSet, process_id: str, step_id: str,
             values: dict[str, Any]) -> Any:
    """A page holding the step's form as the web renders it, with forms.js running."""
    process = definition.process(process_id)
    step = process.step(step_id)
    assert step is not None
    form_class = build_form(definition, process, step, "en")
    env = Environment(loader=FileSystemLoader(ROOT / "web" / "templates"), autoescape=True)
    layout = env.get_template("_form.html").module.render_layout  # type: ignore[attr-defined]
    page = browser.new_page()
    page.set_content(
        f'<form data-qmsflow-form data-values="{escape(form_class.client_values(values))}">'
        f"{layout(form_class(), values, 'en')}</form><script>{SCRIPT}</script>")
    return page


def test_a_section_appears_when_its_condition_starts_to_hold_and_hides_again(
        browser: Any, default_set: DefinitionSet) -> None:
    page = page_for(browser, default_set, "complaint", "register", {})
    section = page.locator("#section-patient")
    assert section.is_hidden() and page.locator("#patient_harm").is_disabled()
    page.check("#patient_involved-0")  # yes
    assert section.is_visible() and page.locator("#patient_harm").is_enabled()
    page.check("#patient_involved-1")  # no
    assert section.is_hidden() and page.locator("#patient_harm").is_disabled()
    page.close()


def test_a_field_follows_a_choice_and_the_cases_state_from_the_form_values(
        browser: Any, default_set: DefinitionSet) -> None:
    page = page_for(browser, default_set, "service_request", "complete_on_site",
                    {"state": "on_site"})
    fee = page.locator("[data-field=service_fee]").first
    assert fee.is_hidden() and page.locator("#service_fee").is_disabled()
    page.select_option("#service_type", "paid")
    assert fee.is_visible() and page.locator("#service_fee").is_enabled()
    assert page.locator("[data-field=serial_verified]").first.is_visible()
    assert page.locator("[data-field=fault_cause]").first.is_hidden()
    page.close()


def test_ticking_a_checkbox_shows_what_depends_on_it(browser: Any,
                                                    default_set: DefinitionSet) -> None:
    page = page_for(browser, default_set, "complaint", "propose_plan", {})
    choices = list(default_set.process("complaint").fields["handling"].choices)
    section = page.locator("#section-compensation")
    page.check(f"#handling-{choices.index('repair')}")
    assert section.is_hidden()
    page.check(f"#handling-{choices.index('compensate')}")
    assert section.is_visible() and page.locator("#compensation_amount").is_enabled()
    page.close()


def test_a_field_required_only_in_some_cases_is_marked_while_it_is(
        browser: Any, default_set: DefinitionSet) -> None:
    page = page_for(browser, default_set, "complaint", "register", {})
    country_mark = page.locator("label[for=country] .qmsflow-required")
    assert country_mark.is_hidden()
    page.select_option("#market", "international")
    assert country_mark.is_visible()
    page.select_option("#market", "domestic")
    assert country_mark.is_hidden()
    page.close()
