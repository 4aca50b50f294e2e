"""Definition administration for quality administrators (the organisation's ``admin_roles``).

Deployed versions with their open cases, state diagrams, validation reports and form previews
of any definition set; drafts edited in the browser, published with a reviewer's signature and
activated without a restart (:mod:`.editor`). The users page manages accounts and their roles
(every change an audit entry).
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from ..auth import login_required

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")


@bp.before_request
@login_required
def only_administrators() -> None:
    """Every admin page needs one of the organisation's admin roles."""
    if not current_user.is_admin:
        abort(403)


from . import checking, diagrams, editor, migrating, users, versions  # noqa: E402,F401 - their routes join this blueprint
