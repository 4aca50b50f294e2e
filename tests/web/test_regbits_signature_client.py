"""Every wrong signature password from the browser names its origin the same way ('web
<address>', as web_client() says): on a case step, and also on the definition editor's
publish and activate and on a password change, which passed the bare address before."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from qmsflow.engine.persistence import users
from qmsflow.engine.persistence.logins import SIGNATURE
from qmsflow.engine.persistence.models import LoginFailure

from ..persistence.conftest import CHEAP, PASSWORD, World
from .conftest import Auth
from .test_cases import INTAKE

REVIEWER = "regbits.reviewer"


def refused_from(world: World, user_id: str) -> list[str]:
    """The origins of the wrong signature passwords of ``user_id``, oldest first."""
    with world.database.sessions() as session:
        return list(session.execute(select(LoginFailure.address).where(
            LoginFailure.kind == SIGNATURE, LoginFailure.user_id == user_id
        ).order_by(LoginFailure.id)).scalars())


def test_regbits_the_editor_and_a_case_step_name_a_wrong_signatures_origin_alike(
        client: FlaskClient, auth: Auth, world: World) -> None:
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, REVIEWER, "Regbits Reviewer",
                  ["quality_manager", "sales"], PASSWORD, world.clock(), hasher=CHEAP)
    auth.login("quality_manager")  # writes a draft: another administrator publishes it
    draft = client.post("/admin/drafts", data={"title": "Nothing"})
    draft_id = draft.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    auth.logout()
    client.post("/login", data={"user_id": REVIEWER, "password": PASSWORD})
    step = client.post("/new/complaint/register", data={**INTAKE, "password": "not mine"})
    assert step.status_code == 422
    client.post(f"/admin/drafts/{draft_id}/publish",
                data={"change_request": "CR-1", "password": "not mine"})
    client.post("/admin/activate", data={"version": world.definition.version,
                                         "reason": "CR-1", "password": "not mine"})
    assert refused_from(world, REVIEWER) == ["web 127.0.0.1"] * 3


def test_regbits_a_wrong_current_password_names_its_origin_as_a_signature_does(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    client.post("/account/password", data={"current": "not mine", "new": "x" * 20,
                                            "again": "x" * 20})
    assert refused_from(world, world.user("sales")) == ["web 127.0.0.1"]
