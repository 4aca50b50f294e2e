"""The admin commands end to end: db, definitions, cases, users and audit, as an operator
types them.

Each invocation reads DATABASE_URL and QMSFLOW_DEFINITIONS afresh, as a new process would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2.exceptions import VerifyMismatchError
from click.testing import CliRunner
from sqlalchemy import select, text

from qmsflow.cli import main
from qmsflow.engine.loader import load
from qmsflow.engine.persistence import drafts, schema, users, versions
from qmsflow.engine.persistence.audit import By
from qmsflow.engine.persistence.db import connect
from qmsflow.engine.persistence.models import AuditEvent, CaseRow, User

from ..conftest import DEFAULT_SET, ROOT, EditSet
from .conftest import AUDIT_KEY, PASSWORD, Database, World, open_complaint, unguard
from .test_versions import (
    RENAMED_STATE,
    SHORTER_CLOSURE,
    accepted_complaint,
    classified_complaint,
)

KANGNING = ROOT / "definitions" / "examples" / "kangning"
SECRET = "a long secret 1"
NEW_SECRET = "another long secret 2"


@dataclass
class Cli:
    """``qmsflow`` against one database, serving one definition set."""

    url: str
    definitions: Path = DEFAULT_SET
    #: Further environment variables, over the database, definitions and the audit key.
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {"DATABASE_URL": self.url, "QMSFLOW_DEFINITIONS": str(self.definitions),
                    "QMSFLOW_AUDIT_KEY": AUDIT_KEY, **self.env}

    def __call__(self, *args: object, input: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, env=self.env)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.output)
        assert "Traceback" not in result.output
        return result.exit_code, result.output


@pytest.fixture
def blank(tmp_path: Path) -> Cli:
    """The CLI on an empty SQLite file: no schema yet."""
    path = tmp_path / "blank.sqlite3"
    path.touch()
    return Cli(f"sqlite:///{path}")


@pytest.fixture
def cli(database: Database) -> Cli:
    """The CLI on a migrated database (each backend)."""
    return Cli(database.url)


@pytest.fixture
def world_cli(world: World) -> Cli:
    """The CLI on the world's database: default set published, one user per role."""
    return Cli(world.database.url)


def lines(output: str) -> list[str]:
    return output.strip().splitlines()


# -- db --------------------------------------------------------------------------------------

def newest_revision() -> str:
    """The newest migration's revision (each branch adds its own: not written out here)."""
    engine = connect("sqlite://")
    try:
        head = schema.current(engine)[1]
    finally:
        engine.dispose()
    assert head is not None
    return head


def test_db_upgrade_creates_the_schema_in_an_empty_sqlite_file_and_status_says_current(
        blank: Cli) -> None:
    head = newest_revision()
    code, output = blank("db", "status")
    assert code == 1
    assert lines(output)[0].endswith(f"blank.sqlite3: revision none, newest {head}")
    assert "Error: the schema is not current: run 'qmsflow db upgrade'" in output

    code, output = blank("db", "upgrade")
    assert code == 0
    assert output.strip().endswith(f"blank.sqlite3: schema at revision {head} (newest {head})")

    code, output = blank("db", "status")
    assert code == 0
    assert output.strip().endswith(f"blank.sqlite3: revision {head}, newest {head}")
    assert blank("db", "upgrade")[0] == 0  # upgrading a current schema is harmless


@pytest.mark.parametrize("args", [
    ("definitions", "list"),
    ("definitions", "publish", DEFAULT_SET),
    ("users", "list"),
    ("users", "add", "li.qiang", "--name", "李强", "--role", "quality", "--password-stdin"),
    ("users", "disable", "li.qiang", "--reason", "left"),
    ("cases", "migrate", "--from", "0123", "--to", "4567"),
    ("cases", "void", "KS-2026-03-0001", "--reason", "twice", "--by", "zhao.min"),
    ("audit", "verify"),
], ids=lambda args: " ".join(args[:2]))
def test_a_command_before_db_upgrade_says_to_run_it_in_one_line(
        blank: Cli, args: tuple[str, ...]) -> None:
    code, output = blank(*args, input=SECRET + "\n")
    assert code == 1
    assert output == ("Error: the database has no qmsflow schema yet: run 'qmsflow db "
                      "upgrade' first\n")


def test_an_unreachable_database_is_named_without_its_password() -> None:
    code, output = Cli("postgresql://qmsflow:s3cret@127.0.0.1:1/qmsflow")("users", "list")
    assert code == 1
    assert output.startswith("Error: cannot use the database "
                             "postgresql+psycopg://qmsflow:***@127.0.0.1:1/qmsflow: ")
    assert output.rstrip().endswith("(check DATABASE_URL or qmsflow.cfg)")
    assert "s3cret" not in output


# -- definitions -----------------------------------------------------------------------------

def test_a_published_set_is_listed_with_its_open_cases_and_note(
        world: World, world_cli: Cli) -> None:
    open_complaint(world)
    code, output = world_cli("definitions", "publish", KANGNING, "--by",
                             world.user("quality_manager"), "--note", "CR-2026-011")
    assert code == 0
    kangning = output.split()[2]
    assert output == f"kangning version {kangning} published\n"
    assert world_cli("definitions", "publish", KANGNING)[1] == (
        f"kangning version {kangning} already published\n")

    code, output = world_cli("definitions", "list")
    assert code == 0
    default, added = lines(output)
    assert default.startswith(f"{world.definition.version[:12]}  default ")
    assert default.endswith("UTC  1 open case(s)")
    assert added.startswith(f"{kangning}  kangning ")
    assert added.endswith("UTC  0 open case(s)  CR-2026-011")
    with world.database.sessions() as session:
        entry = session.execute(select(AuditEvent).where(AuditEvent.version.startswith(
            kangning))).scalar_one()
    assert (entry.action, entry.actor_id, entry.actor_name) == (
        "published", world.user("quality_manager"), "Quality_Manager User")


def test_publishing_an_invalid_set_lists_its_problems_and_stores_nothing(
        cli: Cli, edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "    to: investigation\n",
                         "    to: investigaton\n"))
    code, output = cli("definitions", "publish", folder)
    assert code == 1
    assert output.startswith("Error: the definition set has problems:\n")
    assert "did you mean 'investigation'?" in output
    assert cli("definitions", "list") == (0, "")


def test_diff_prints_the_closure_deadline_change_of_kangning(
        blank: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, output = blank("definitions", "diff", "definitions/default",
                         "definitions/examples/kangning")
    assert code == 0
    assert ("changed  deadline 'closure/domestic' (complaint): duration changed from 5 working "
            "days to 4 working days") in lines(output)
    assert ("added    field 'hospital_grade' (complaint) added: Hospital grade (choice, "
            "required)") in lines(output)
    assert lines(output)[-2:] == [
        "10 change(s)",
        "deadlines change; no database with cases of the old version to measure how many due "
        "times would move"]


def test_diff_of_identical_sets_says_no_changes(blank: Cli) -> None:
    assert blank("definitions", "diff", DEFAULT_SET, DEFAULT_SET) == (0, "0 change(s)\n")


def test_diff_says_how_many_open_cases_due_times_would_move_and_by_how_much(
        world: World, world_cli: Cli) -> None:
    accepted_complaint(world)  # closure due Monday 9 March; 4 working days: Friday 6 March
    open_complaint(world)  # no clock runs yet
    old = world.definition.version[:12]
    for reference in (DEFAULT_SET, old):  # a folder or a stored version
        code, output = world_cli("definitions", "diff", reference, KANGNING)
        assert code == 0
        assert lines(output)[-1] == (
            f"deadlines change: 1 of 2 open case(s) on {old} would get another due time, "
            "moving by -3.0 days to -3.0 days")


def test_diff_of_an_unknown_version_names_the_stored_ones(world: World, world_cli: Cli) -> None:
    code, output = world_cli("definitions", "diff", "0123456789ab", KANGNING)
    assert code == 1
    assert output == (f"Error: '0123456789ab' is not a stored definition version; stored: "
                      f"{world.definition.version[:12]} (default, 2026-03-02)\n")


# -- cases -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_cases_migrate_dry_run_says_what_would_move_then_migrate_moves_it(
        world: World, world_cli: Cli, edited_set: EditSet) -> None:
    running = accepted_complaint(world)  # KS-2026-03-0001, closure clock running
    waiting = classified_complaint(world)  # KS-2026-03-0002, in gm_acceptance
    code, output = world_cli("definitions", "publish",
                             edited_set(SHORTER_CLOSURE, *RENAMED_STATE))
    assert code == 0
    old, new = world.definition.version[:12], output.split()[2]
    migrate = ("cases", "migrate", "--from", old, "--to", new)

    code, output = world_cli(*migrate, "--dry-run")
    assert code == 1
    assert lines(output) == [
        f"would move {running.number} (closure due 2026-03-09 09:30 -> 2026-03-06 09:30 UTC)",
        f"refused  {waiting.number}: state 'gm_acceptance' does not exist in the new version: "
        "map it with --map gm_acceptance=<new state>",
        "1 case(s) would move, 1 refused"]

    code, output = world_cli(*migrate, "--map", "gm_acceptance=gm_intake", "--dry-run")
    assert (code, lines(output)[-1]) == (0, "2 case(s) would move, 0 refused")
    with world.database.sessions() as session:
        assert set(session.execute(select(CaseRow.version)).scalars()) == {
            world.definition.version}

    code, output = world_cli(*migrate, "--map", "gm_acceptance=gm_intake", "--by",
                             world.user("quality_manager"))
    assert code == 0
    assert lines(output) == [
        f"moved    {running.number} (closure due 2026-03-09 09:30 -> 2026-03-06 09:30 UTC)",
        f"moved    {waiting.number}",
        "2 case(s) moved, 0 refused"]
    with world.database.sessions() as session:
        rows = session.execute(select(CaseRow).order_by(CaseRow.id)).scalars().all()
        entries = session.execute(select(AuditEvent).where(
            AuditEvent.action == "migrated")).scalars().all()
    assert [(r.version[:12], r.state) for r in rows] == [
        (new, "investigation"), (new, "gm_intake")]
    assert {(e.actor_id, e.client) for e in entries} == {(world.user("quality_manager"), "cli")}
    assert world_cli("cases", "migrate", "--from", old, "--to", new)[1] == (
        "0 case(s) moved, 0 refused\n")


def test_cases_migrate_explains_a_malformed_map(world_cli: Cli, world: World) -> None:
    version = world.definition.version[:12]
    code, output = world_cli("cases", "migrate", "--from", version, "--to", version, "--map",
                             "gm_acceptance")
    assert code == 2
    assert "'gm_acceptance': write OLD_STATE=NEW_STATE" in output


def test_only_a_quality_manager_may_void_a_case(world: World, world_cli: Cli) -> None:
    case = open_complaint(world)
    void = ("cases", "void", case.number, "--reason", "entered twice")
    code, output = world_cli(*void, "--by", world.user("sales"))
    assert code == 1
    assert output == ("Error: 'void' refused in state 'registered': voiding needs one of the "
                      "roles quality_manager; Sales User has sales\n")
    assert world.service.read_case(case.number).voided_at is None

    assert world_cli(*void, "--by", world.user("quality_manager")) == (
        0, f"{case.number} voided\n")
    history = world.service.read_case(case.number)
    assert history.void_reason == "entered twice"
    assert (history.events[-1].action, history.events[-1].client) == ("voided", "cli")
    code, output = world_cli("cases", "void", "KS-2026-03-0099", "--reason", "x", "--by",
                             world.user("quality_manager"))
    assert (code, output.startswith("Error: no case 'KS-2026-03-0099'")) == (1, True)


def test_voided_cases_are_not_counted_as_open_cases_of_a_version(
        world: World, world_cli: Cli) -> None:
    case = open_complaint(world)
    world.service.void_case(case.number, world.user("quality_manager"), "entered twice")
    (listed,) = lines(world_cli("definitions", "list")[1])
    assert listed.endswith("UTC  0 open case(s)")


# -- users -----------------------------------------------------------------------------------

def add_li(cli: Cli, *more: str) -> tuple[int, str]:
    return cli("users", "add", "li.qiang", "--name", "李强", "--role", "quality",
               "--department", "quality", *more, "--password-stdin", input=SECRET + "\n")


def test_users_add_reads_the_password_from_stdin_and_records_who_added_the_account(
        cli: Cli, database: Database) -> None:
    assert add_li(cli, "--role", "quality_manager") == (
        0, "user li.qiang added with roles quality, quality_manager\n")
    with database.sessions.begin() as session:
        user = users.get(session, "li.qiang")
        assert users.HASHER.verify(session.get_one(User, "li.qiang").password_hash, SECRET)
        assert (user.name, user.roles, user.departments, user.locale) == (
            "李强", ("quality", "quality_manager"), ("quality",), "zh-CN")
        entry = session.execute(select(AuditEvent)).scalar_one()
    assert (entry.action, entry.field) == ("user_added", "li.qiang")
    assert entry.actor_name.startswith("qmsflow CLI (")
    assert SECRET not in str(entry.data)


def test_users_sign_out_ends_every_session_of_the_user_and_says_how_many(
        world: World, world_cli: Cli) -> None:
    sales = world.user("sales")
    for _ in range(2):
        world.service.sign_in(sales, PASSWORD, "10.0.0.1")
    assert world_cli("users", "sign-out", sales) == (
        0, f"{sales} signed out everywhere (2 sessions ended)\n")
    assert world_cli("users", "sign-out", sales) == (
        0, f"{sales} signed out everywhere (0 sessions ended)\n")
    code, output = world_cli("users", "sign-out", "sales.usr")
    assert (code, output) == (1, "Error: no user 'sales.usr' (did you mean 'sales.user'?)\n")
    with world.database.sessions() as session:
        entries = session.execute(select(AuditEvent).where(
            AuditEvent.action == "sessions_ended")).scalars().all()
    assert [entry.data["sessions"] for entry in entries] == [2, 0]
    assert entries[0].actor_name.startswith("qmsflow CLI (")


def test_users_add_asks_for_the_password_twice_without_stdin(cli: Cli) -> None:
    code, output = cli("users", "add", "li.qiang", "--name", "李强", "--role", "quality",
                       input=f"{SECRET}\n{SECRET}\n")
    assert code == 0
    assert output.endswith("user li.qiang added with roles quality\n")


def test_an_unknown_role_is_refused_with_a_did_you_mean(cli: Cli) -> None:
    code, output = cli("users", "add", "li.qiang", "--name", "李强", "--role", "qualty",
                       "--password-stdin", input=SECRET + "\n")
    assert (code, output) == (1, "Error: unknown role 'qualty' (did you mean 'quality'?)\n")
    assert cli("users", "list") == (0, "")


def test_a_short_password_is_refused(cli: Cli) -> None:
    code, output = cli("users", "add", "li.qiang", "--name", "李强", "--role", "quality",
                       "--password-stdin", input="short\n")
    assert (code, output) == (1, "Error: the password needs at least 10 characters\n")


def test_a_user_id_is_never_reused_even_after_the_account_is_disabled(cli: Cli) -> None:
    add_li(cli)
    assert add_li(cli) == (1, "Error: user id 'li.qiang' belongs to an account (李强); ids are "
                              "never reused: choose another\n")
    assert cli("users", "disable", "li.qiang", "--reason", "left the company") == (
        0, "user li.qiang disabled\n")
    assert add_li(cli) == (1, "Error: user id 'li.qiang' belongs to a disabled account (李强); "
                              "ids are never reused: choose another\n")


def test_users_list_shows_disabled_and_locked_accounts(cli: Cli, database: Database) -> None:
    add_li(cli)
    cli("users", "add", "zhao.min", "--name", "赵敏", "--role", "quality_manager",
        "--password-stdin", input=SECRET + "\n")
    cli("users", "add", "wang.fang", "--name", "王芳", "--role", "sales", "--password-stdin",
        input=SECRET + "\n")
    assert cli("users", "disable", "zhao.min", "--reason", "left the company")[0] == 0
    with database.sessions.begin() as session:
        session.get_one(User, "wang.fang").locked_until = datetime(2999, 1, 1, tzinfo=UTC)

    code, output = cli("users", "list")
    assert code == 0
    assert [line.split() for line in lines(output)] == [
        ["li.qiang", "李强", "active", "quality"],
        ["wang.fang", "王芳", "locked", "sales"],
        ["zhao.min", "赵敏", "disabled", "quality_manager"]]
    assert cli("users", "disable", "zhao.min", "--reason", "again") == (
        1, "Error: user 'zhao.min' is already disabled\n")
    assert cli("users", "disable", "zhao.mn", "--reason", "typo")[1] == (
        "Error: no user 'zhao.mn' (did you mean 'zhao.min'?)\n")


def test_set_password_replaces_the_password_and_unlocks_the_account(
        cli: Cli, database: Database) -> None:
    add_li(cli)
    with database.sessions.begin() as session:
        session.get_one(User, "li.qiang").locked_until = datetime(2999, 1, 1, tzinfo=UTC)
    assert cli("users", "set-password", "li.qiang", "--password-stdin",
               input=NEW_SECRET + "\n") == (0, "password of li.qiang set\n")
    assert lines(cli("users", "list")[1])[0].split()[2] == "active"
    with database.sessions.begin() as session:
        stored = session.get_one(User, "li.qiang").password_hash
    assert users.HASHER.verify(stored, NEW_SECRET)
    with pytest.raises(VerifyMismatchError):
        users.HASHER.verify(stored, SECRET)
    code, output = cli("users", "set-password", "li.qiang", "--password-stdin",
                       input="li.qiang's own\n")
    assert (code, output) == (1, "Error: the password must not contain the user id\n")
    code, output = cli("users", "set-password", "li.qiang", "--password-stdin",
                       input=SECRET + "\n")
    assert (code, output) == (1, "Error: the password must differ from the last 5 passwords "
                                 "of this account: choose a new one\n")
    assert cli("users", "set-password", "li.qiang", "--temporary", "--password-stdin",
               input="a third fine secret\n") == (0, "password of li.qiang set (temporary)\n")
    with database.sessions() as session:
        assert session.get_one(User, "li.qiang").password_temporary


# -- audit -----------------------------------------------------------------------------------

def test_audit_verify_finds_an_entry_changed_behind_qmsflows_back(
        world: World, world_cli: Cli) -> None:
    case = open_complaint(world)
    code, output = world_cli("audit", "verify")
    assert code == 0 and output.startswith("note: the last ") and "not sealed yet" in output
    world.service.seal_audit()
    code, output = world_cli("audit", "verify")
    with world.database.sessions() as session:
        count = session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalar()
    assert (code, output) == (0, f"{count} audit entries checked: the chains are intact, and "
                                 "every case, signature, account and definition version is "
                                 "what its trail says\n")

    unguard(world.database, "audit_events")
    with world.database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET new = '\"x\"' "
                                "WHERE id = (SELECT max(id) FROM audit_events)"))
    code, output = world_cli("audit", "verify")
    assert code == 1
    assert lines(output) == [
        f"BROKEN event {count} (case {case.number}): its content does not match its seal: "
        "the row was changed after it was written",
        f"Error: {count} audit entries checked, 1 difference(s): the trail or the records "
        "were altered outside qmsflow"]


def test_users_sign_out_all_ends_every_users_sessions(world: World, world_cli: Cli) -> None:
    for role in ("sales", "quality"):
        world.service.sign_in(world.user(role), PASSWORD, "10.0.0.1")
    assert world_cli("users", "sign-out", "--all") == (
        0, "every user signed out everywhere (2 sessions ended)\n")
    code, output = world_cli("users", "sign-out")
    assert (code, output) == (
        1, "Error: name one user to sign out, or give --all for every user\n")


def test_export_writes_the_active_version_as_a_folder_that_validates_to_the_same_version(
        world: World, world_cli: Cli, tmp_path: Path) -> None:
    code, output = world_cli("definitions", "export", tmp_path / "served")
    assert code == 0
    assert output.startswith(f"default version {world.definition.version[:12]}: ")
    assert world_cli("validate", tmp_path / "served")[0] == 0
    assert load(tmp_path / "served").version == world.definition.version

    kangning = world_cli("definitions", "publish", KANGNING)[1].split()[2]
    with world.database.sessions.begin() as session:
        full = versions.find(session, kangning).hash
        drafts.activate(session, full, By("qa", "QA"), world.clock(), "CR-9")
    code, output = world_cli("definitions", "export", tmp_path / "active")
    assert code == 0
    exported = Path(output.strip().rsplit("the set is ", 1)[1])
    assert exported == tmp_path / "active" / "examples" / "kangning"
    assert world_cli("validate", exported)[0] == 0
    assert load(exported).version == full


def test_export_refuses_a_folder_that_is_not_empty_and_an_unknown_version(
        world_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, output = world_cli("definitions", "export", tmp_path)
    assert code == 1 and "is not empty" in output
    code, output = world_cli("definitions", "export", tmp_path / "new", "--version",
                             "0123456789ab")
    assert code == 1 and "is not a stored definition version" in output
