"""Moving the open cases of one definition version to another, from the version page.

A dry run first: each open case with what would move (its deadlines' due times) or why it must
stay. A state that open cases are in but the new version lacks (renamed, split, merged) is
mapped to one of the new version's states, as ``qmsflow cases migrate --map old=new`` does, and
the dry run is shown again with the mapping. Then a confirm signed with the administrator's
password (the same check as a step's electronic signature) that migrates and audits exactly
as the command does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from qmsflow.engine.migration import Plan
from qmsflow.engine.model import DefinitionSet, Process, text
from qmsflow.engine.persistence import AuthenticationFailed, By

from ..auth import service, web_client
from ..i18n import gettext as _
from ..i18n import local_time, locale
from . import bp
from .telling import dry_run
from .versions import ShownVersion, compiled_version, shown_versions


@dataclass(frozen=True)
class PlannedCase:
    """One open case in the dry run: where it is, and what would move or why it stays."""

    number: str
    process: str
    state: str
    moves: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class StateChoice:
    """A state that open cases are in and the new version lacks: the new version's states it
    may be mapped to ((id, label), those every process holding such a case has) and the one
    chosen, if any."""

    state: str
    label: str
    options: tuple[tuple[str, str], ...]
    chosen: str | None

    @property
    def field(self) -> str:
        """The name of its choice in the forms."""
        return MAP_PREFIX + self.state


#: A mapped state travels as ``map.<state in the running version>=<state in the new one>``.
MAP_PREFIX = "map."


def state_choices(plans: list[Plan], running: DefinitionSet, target: DefinitionSet,
                  asked: Mapping[str, str]) -> list[StateChoice]:
    """The states to map before the cases in them can move (see :class:`StateChoice`)."""
    # A mapping renames the state in every process (as the command's --map does), so its
    # choices are the states every process with an open case in it has.
    holders: dict[str, set[str]] = {}
    lacking: set[str] = set()
    for plan in plans:
        case = plan.before or plan.case
        assert case is not None  # a plan always carries the case it was made for
        process = target.processes.get(case.process)
        if process is not None:
            holders.setdefault(case.state, set()).add(case.process)
            if case.state not in process.states:
                lacking.add(case.state)
    choices = []
    for state in sorted(lacking):
        processes = holders[state]
        first = target.process(sorted(processes)[0])
        common = [sid for sid in first.states if all(
            sid in target.process(other).states for other in processes)]
        old = running.processes.get(sorted(processes)[0])
        old_state = old.states.get(state) if old else None
        choices.append(StateChoice(
            state, _name(dict(old_state.label), state) if old_state else state,
            tuple((sid, _name(dict(first.states[sid].label), sid)) for sid in common),
            asked.get(state)))
    return choices


def _asked_map() -> dict[str, str]:
    return {key[len(MAP_PREFIX):]: value for key, value in request.values.items()
            if key.startswith(MAP_PREFIX) and value}


def _checked_map(asked: Mapping[str, str], choices: list[StateChoice]) -> list[str]:
    """What is wrong with the mapping asked for, in words (nothing: it may be used)."""
    known = {choice.state: choice for choice in choices}
    wrong = []
    for state, wanted in asked.items():
        choice = known.get(state)
        if choice is None:
            wrong.append(_("No open case is in a state '%(state)s' that the new version "
                           "lacks, so it needs no mapping.", state=state))
        elif wanted not in {sid for sid, _label in choice.options}:
            wrong.append(_("'%(wanted)s' is not a state the cases in '%(state)s' can move to "
                           "in the new version: pick one from the list.", wanted=wanted,
                           state=choice.label))
    return wrong


def _name(labels: dict[str, str] | None, fallback: str) -> str:
    return text(labels or {}, locale()) or fallback


def _reason(code: str, subject: str, process: Process | None, before: Process | None) -> str:
    """A reason a case cannot move, in the reader's language; ``before`` is its process in the
    version it runs on, which names what the new version lacks."""
    if code == "process":
        return _("Its process does not exist in the new version.")
    if code == "state":
        state = before.states.get(subject) if before else None
        return _("Its state '%(state)s' does not exist in the new version: map it to one of "
                 "the new version's states below.",
                 state=_name(dict(state.label), subject) if state else subject)
    if code == "priority":
        return _("Its priority %(priority)s does not exist in the new version.",
                 priority=subject)
    field = process.fields.get(subject) if process else None
    if code in ("field", "value"):
        name = _name(dict(field.label), subject) if field else subject
        return _("Field '%(field)s' holds a value the new version has no place for.",
                 field=name) if code == "field" else _(
            "Field '%(field)s' holds a value the new version does not accept.", field=name)
    clock = process.clocks.get(subject) if process else None
    name = _name(dict(clock.label), subject) if clock else subject
    if code == "clock":
        return _("Deadline '%(clock)s' runs but does not exist in the new version.",
                 clock=name)
    return _("No duration of deadline '%(clock)s' applies to this case in the new version.",
             clock=name)


def planned(plans: list[Plan], running: DefinitionSet, target: DefinitionSet
            ) -> list[PlannedCase]:
    """The dry run's plans as the page shows them, with labels in the reader's language."""
    rows = []
    for plan in plans:
        case = plan.before or plan.case
        assert case is not None  # a plan always carries the case it was made for
        old, new = running.processes.get(case.process), target.processes.get(case.process)
        shown = new or old
        moves = tuple(_("%(clock)s: due %(old)s → %(new)s", clock=_name(
            dict(new.clocks[m.clock].label), m.clock) if new else m.clock,
            old=local_time(m.old_due), new=local_time(m.new_due)) for m in plan.moves)
        state = old.states.get(case.state) if old else None
        rows.append(PlannedCase(
            plan.number, _name(dict(shown.label), case.process) if shown else case.process,
            _name(dict(state.label), case.state) if state else case.state, moves,
            tuple(_reason(code, subject, new, old) for code, subject in plan.why)
            or tuple(plan.reasons)))
    return rows


def _found(shown: list[ShownVersion], wanted: str) -> ShownVersion | None:
    if len(wanted) < 6:
        return None
    return next((item for item in shown if item.hash.startswith(wanted)), None)


@bp.route("/versions/<version>/migrate", methods=["GET", "POST"])
def migrate(version: str) -> str | Response | tuple[str, int]:
    """The dry run of moving the open cases of ``?from=`` to this version, and its signed
    confirm."""
    shown = shown_versions()
    target = _found(shown, version)
    running = _found(shown, request.values.get("from", ""))
    if target is None or running is None or running.hash == target.hash:
        abort(404)
    target_set, running_set = compiled_version(target.hash), compiled_version(running.hash)
    if target_set is None or running_set is None:
        abort(404)
    # One dry run with the mapping asked for: a state mapped to one the new version lacks
    # still reads as "does not exist", and the choices only depend on the cases' own states.
    asked = _asked_map()
    plans = dry_run(running.hash, target.hash, asked)
    choices = state_choices(plans, running_set, target_set, asked)
    errors = _checked_map(asked, choices)
    if request.method == "POST" and not errors:
        password = request.form.get("password") or ""
        client = web_client()
        try:
            if not password:
                raise AuthenticationFailed("no password given", "missing")
            service().check_signer(current_user.id, password, client)
        except AuthenticationFailed as failure:
            errors.append(_(
                "Signing is paused for a while after several wrong passwords; no case was "
                "moved. Try again later, or ask an administrator.") if failure.why == "locked"
                else _("Type your password to sign the migration.") if failure.why == "missing"
                else _("The password is wrong, so the migration was not signed; no case was "
                       "moved."))
        else:
            done = service().migrate(running.hash, target.hash, asked or None,
                                     by=By(current_user.id, current_user.name), client=client)
            moved = sum(1 for plan in done if plan.case is not None)
            flash(_("%(moved)s open case(s) moved to version %(version)s; %(stayed)s stayed.",
                    moved=moved, version=target.hash[:12], stayed=len(done) - moved), "info")
            return redirect(url_for("admin.migrate", version=target.hash[:12])
                            + f"?from={running.hash[:12]}")
    rows = planned(plans, running_set, target_set)
    page = render_template("admin/migrate.html", target=target, running=running, rows=rows,
                           errors=errors, fitting=sum(1 for row in rows if row.fits),
                           choices=choices, mapping=asked)
    return (page, 422) if errors else page
