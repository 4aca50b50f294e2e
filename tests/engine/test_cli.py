"""The qmsflow command line as quality administrators and CI pipelines use it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from referencing import Registry, Resource

from qmsflow.cli import main

from ..conftest import DEFAULT_SET, ROOT, SCENARIOS, EditSet


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_validate_exits_zero_for_a_valid_set() -> None:
    code, output = invoke("validate", DEFAULT_SET)
    assert code == 0
    assert output.strip().endswith(": valid")


def test_validate_exits_one_and_prints_one_line_per_problem(edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "    to: investigation\n",
                         "    to: investigaton\n"))
    code, output = invoke("validate", folder)
    assert code == 1
    (line,) = [x for x in output.splitlines() if ": E201 " in x]
    assert "processes/complaint.yaml:" in line
    assert ": E201 $.transitions[" in line and "did you mean 'investigation'?" in line


def test_validate_tells_how_much_of_each_report_form_the_set_fills() -> None:
    code, output = invoke("validate", "--forms", DEFAULT_SET)
    assert code == 0
    assert ("fda_3500a (FDA MedWatch Form 3500A): 17 of 17 mandatory fields filled from the "
            "case, 29 of 31 fields in all") in output


def test_validate_names_a_mandatory_form_field_nothing_fills(edited_set: EditSet) -> None:
    folder = edited_set(("report_forms/eu_mir.yaml", ", mandatory: true, from: holder_srn}",
                         ", mandatory: true}"))
    code, output = invoke("validate", "--forms", folder)
    assert code == 1
    (line,) = [x for x in output.splitlines() if ": E261 " in x]
    assert "report_forms/eu_mir.yaml:" in line and "mandatory field 'srn'" in line
    assert "fields filled from the case" not in output  # no coverage for an invalid set


def test_validate_exits_two_on_a_usage_error() -> None:
    code, output = invoke("validate", "--format", "xml", DEFAULT_SET)
    assert code == 2
    assert "'xml' is not one of" in output


def test_validate_speaks_json_for_tools(edited_set: EditSet) -> None:
    folder = edited_set(("organisation.yaml", "department: finance", "department: financ"))
    code, output = invoke("validate", "--format", "json", folder)
    report = json.loads(output)
    assert code == 1 and report["valid"] is False
    (problem,) = report["sets"][0]["problems"]
    assert problem["code"] == "E201" and problem["hint"] == "did you mean 'finance'?"


def test_validate_writes_github_annotations_for_ci(edited_set: EditSet) -> None:
    folder = edited_set(("organisation.yaml", "department: finance", "department: financ"))
    code, output = invoke("validate", "--format", "github", folder)
    assert code == 1
    assert output.startswith("::error file=")
    assert ",title=E201::E201 $.roles[" in output


def test_exported_schemas_validate_the_bundled_files_with_any_standard_validator(
        tmp_path: Path) -> None:
    code, _ = invoke("schema", "export", tmp_path)
    assert code == 0
    schemas = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert {"process.schema.json", "calendar.schema.json", "scenario.schema.json"} <= set(
        schemas)
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    for path in DEFAULT_SET.rglob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        schema = schemas[f"{data['kind']}.schema.json"]
        jsonschema.Draft202012Validator(schema, registry=registry).validate(data)


def test_every_bundled_file_names_its_schema_for_editors() -> None:
    for path in [*DEFAULT_SET.rglob("*.yaml"), *SCENARIOS]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: {target} does not exist"


def test_graph_draws_the_state_machine_with_roles_on_transitions() -> None:
    code, output = invoke("graph", DEFAULT_SET, "--process", "complaint", "--locale", "en")
    assert code == 0
    assert output.startswith("stateDiagram-v2")
    assert "approval --> reply: Approve the plan [sales_manager, deputy_gm, gm] ✍ approved" in (
        output)
    code, dot = invoke("graph", DEFAULT_SET, "--process", "complaint", "--format", "dot")
    assert code == 0 and dot.startswith('digraph "complaint" {')


def test_graph_names_the_known_processes_when_given_an_unknown_one() -> None:
    code, output = invoke("graph", DEFAULT_SET, "--process", "complain")
    assert code == 2
    assert "known: complaint" in output


@pytest.mark.slow
def test_simulate_passes_every_bundled_scenario() -> None:
    code, output = invoke("simulate", "--quiet", ROOT / "scenarios")
    assert code == 0, output
    assert output.splitlines()[-1] == f"{len(SCENARIOS)} passed, 0 failed"


def test_simulate_reports_each_failing_step_and_exits_one(tmp_path: Path) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(f"""kind: scenario
title: wrong expectation
definitions: {DEFAULT_SET}
start: "2026-03-02T10:00:00+08:00"
users: [{{id: li, name: 李, roles: [quality]}}]
steps:
  - actor: li
    open: register
    process: complaint
    inputs: {{channel: phone}}
    expect: {{state: registered}}
""", encoding="utf-8")
    code, output = invoke("simulate", scenario)
    assert code == 1
    assert "FAILED" in output and "step 1 (line 7)" in output
    assert "refused: 'register' refused" in output and "is required" in output
