"""The Flask application factory: configuration, extensions, blueprints, security.

Configuration comes from :func:`qmsflow.settings.load`, the loader every command uses too
(defaults, ``instance/qmsflow.cfg``, ``QMSFLOW_*`` variables, ``DATABASE_URL``), or, in tests,
from the mapping the caller passes over the defaults.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from qmsflow import settings
from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.problems import DefinitionError

from . import guards, i18n
from .runtime import Runtime


class ConfigurationError(QmsflowError, RuntimeError):
    """The application cannot start as configured; the message says what to change."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the qmsflow web application.

    ``config`` overrides everything else (tests pass a database URL, a definition folder, a
    clock under ``CLOCK``, a cheaper password hasher under ``HASHER`` and the already compiled
    set under ``COMPILED``).
    """
    if config is None:  # the settings every command reads too, in the same order
        try:
            chosen = settings.load()
        except settings.SettingsError as error:
            raise ConfigurationError(str(error)) from None
    else:  # tests: the defaults and what they pass, nothing from the machine
        chosen = {**settings.DEFAULTS, "INSTANCE": str(settings.instance_folder()), **config}
    instance = Path(chosen["INSTANCE"])
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.from_mapping(settings.WEB_DEFAULTS)
    app.config.from_mapping(chosen)
    try:
        # Every key that signs: Flask signs sessions with the last and accepts the earlier.
        *earlier, app.config["SECRET_KEY"] = settings.signing_keys(app.config)
    except settings.SettingsError as error:
        raise ConfigurationError(f"refusing to start: {error}") from None
    app.config["SECRET_KEY_FALLBACKS"] = earlier
    app.config["UPLOAD_FOLDER"] = app.config["UPLOAD_FOLDER"] or str(instance / "uploads")
    app.config["MAX_CONTENT_LENGTH"] = app.config["UPLOAD_MAX_BYTES"] + 1024 * 1024
    # The cookie outlives the session's longest life so that the server, which checks both
    # limits itself (user_sessions.check), can say why the user was signed out.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=app.config["SESSION_MAX_HOURS"], minutes=app.config["SESSION_TIMEOUT_MINUTES"])
    _trust_proxies(app)
    _check_passwords(app)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] == "production"
    if app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_NAME"] == (
            settings.WEB_DEFAULTS["SESSION_COOKIE_NAME"]):
        # __Host-: browsers take the cookie only over HTTPS, for this host and path "/" alone,
        # so a neighbouring subdomain cannot set or overwrite it.
        app.config["SESSION_COOKIE_NAME"] = "__Host-" + app.config["SESSION_COOKIE_NAME"]

    runtime = _runtime(app)
    app.extensions["qmsflow"] = runtime

    @app.before_request
    def serve_the_active_version() -> None:
        # A version activated in the database is served from the next request on, in every
        # worker process: no restart, no flag in one process's memory. (Static files do not
        # depend on it.)
        if request.endpoint != "static":
            runtime.refresh()

    csrf = CSRFProtect(app)
    Babel(app, locale_selector=i18n.select_locale,
          default_translation_directories=str(Path(__file__).parent / "translations"))
    login = LoginManager(app)
    login.session_protection = "strong"
    from .auth import bp as auth_bp
    from .auth import load_account, needs_login
    login.user_loader(load_account)
    login.unauthorized_handler(needs_login)

    from .account import bp as account_bp
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .cases import bp as cases_bp
    from .operations import bp as operations_bp
    from .registers import bp as registers_bp
    from .reports import bp as reports_bp
    from .retention import bp as retention_bp
    from .schedules import bp as schedules_bp
    from .surveys import bp as surveys_bp
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(operations_bp)
    app.register_blueprint(registers_bp)
    app.register_blueprint(retention_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(surveys_bp)  # customers' survey links: no login, token-signed
    app.register_blueprint(csrf.exempt(api_bp))  # bearer tokens, no cookies: nothing to forge
    i18n.init_app(app)
    guards.init_app(app)
    _errors(app)
    app.after_request(_secure_headers)
    logging.getLogger("werkzeug").addFilter(_NoQueryStrings())
    return app


def _trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from ``TRUST_PROXY_HOPS`` reverse proxies.

    Off by default: any client can send X-Forwarded-For, and sign-in throttling by address
    must not take the client's word for its address. Set it to the number of proxies in
    front of qmsflow (1 for one nginx) only when every request passes through them.
    """
    hops = app.config["TRUST_PROXY_HOPS"]
    if not isinstance(hops, int) or isinstance(hops, bool) or not 0 <= hops <= 10:
        raise ConfigurationError(
            f"TRUST_PROXY_HOPS is {hops!r}: set QMSFLOW_TRUST_PROXY_HOPS to the number of "
            "reverse proxies in front of qmsflow (0, the default, trusts no X-Forwarded-For)")
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _check_passwords(app: Flask) -> None:
    """The password rules' settings are small whole numbers (a typo must not turn them off)."""
    for name, top, meaning in (
            ("PASSWORD_HISTORY", 50, "how many of a user's last passwords a new one may not "
                                     "repeat (0 to 50; default 5)"),
            ("PASSWORD_MAX_AGE_DAYS", 3650, "the days after which a password must be changed "
                                            "(0, the default, for never; at most 3650)")):
        value = app.config[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise ConfigurationError(f"{name} is {value!r}: set QMSFLOW_{name} to {meaning}")


def _runtime(app: Flask) -> Runtime:
    options = {key: app.config[key] for key in ("CLOCK", "HASHER", "COMPILED")
               if key in app.config}
    runtime = Runtime.from_settings(app.config,
                                    **{name.lower(): value for name, value in options.items()})
    try:
        runtime.definition  # noqa: B018 - compile now: a broken set must stop the start-up
    except DefinitionError as error:
        raise ConfigurationError(
            f"the definition set {app.config['DEFINITIONS']} has problems; fix them (see "
            "'qmsflow validate') before serving:\n"
            + "\n".join(str(problem) for problem in error.problems)) from None
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"no definition set at {app.config['DEFINITIONS']}: set QMSFLOW_DEFINITIONS to "
            f"the folder of the set to serve ({error})") from None
    _check_public_url(app, runtime)
    return runtime


def _check_public_url(app: Flask, runtime: Runtime) -> None:
    # Customers open survey links from their own machines: in production a link to this
    # machine's loopback address would reach nobody.
    surveys = any(p.surveys for p in runtime.definition.processes.values())
    host = urlsplit(str(app.config["PUBLIC_URL"])).hostname or ""
    if app.config["ENV"] == "production" and surveys and (
            host in ("localhost", "") or host.startswith("127.")):
        runtime.close()
        raise ConfigurationError(
            f"the definitions send customers survey links, but QMSFLOW_PUBLIC_URL is "
            f"{app.config['PUBLIC_URL']!r}, which customers cannot reach: set it to the "
            "address they open (e.g. https://service.example.com)")


def _errors(app: Flask) -> None:
    """Error pages in the user's language; never a traceback."""

    def page(status: int, title: str, message: str) -> tuple[str, int]:
        return render_template("error.html", status=status, title=title,
                               message=message), status

    @app.errorhandler(CSRFError)
    def csrf_failed(_error: CSRFError) -> tuple[str, int]:
        return page(400, _("The form has expired"), _(
            "Your session ended or the page was open too long, so the form could not be "
            "accepted. Nothing was saved. Go back, reload the page and send it again: your "
            "browser still shows what you typed."))

    @app.errorhandler(400)
    def bad_request(error: HTTPException) -> tuple[str, int]:
        # Our own refusals (guards, views) carry a message saying how to fix the input.
        own = error.description if error.description != BadRequest.description else None
        return page(400, _("The request cannot be read"), own or _(
            "The address or the form holds something the server cannot read. Go back, "
            "check what you typed and try again."))

    @app.errorhandler(403)
    def forbidden(_error: Exception) -> tuple[str, int]:
        # A security event: who asked for what they may not (the path only: a query string
        # can hold personal data).
        app.logger.warning("refused (403): %s %s %s", current_user.get_id(), request.method,
                           request.path)
        return page(403, _("Not allowed"), _("Your roles do not allow this page."))

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[str, int]:
        return page(404, _("Not found"), _("There is no such page or case. Check the "
                                           "address or the case number."))

    @app.errorhandler(413)
    def too_large(_error: Exception) -> tuple[str, int]:
        limit = app.config["UPLOAD_MAX_BYTES"] // (1024 * 1024)
        return page(413, _("The upload is too large"), _(
            "Files may be at most %(limit)s MB. Nothing was saved; go back and attach a "
            "smaller file.", limit=limit))

    @app.errorhandler(500)
    def failed(_error: Exception) -> tuple[str, int]:
        return page(500, _("Something went wrong"), _(
            "The server could not finish this request and saved nothing. Try again; if it "
            "happens again, tell your quality administrator the time it happened."))


# Scripts only from this server; WebAssembly for the diagram renderer; style attributes carry
# the form grid's column count.
_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        # Served over HTTPS (production): browsers never try plain HTTP here again for a year.
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    if not request.path.startswith("/static/"):
        # Case data, attachments and API answers are personal and confidential: no copies in
        # shared caches or the browser's history. Only the vendored static files are cached.
        # Set outright: send_file's own "no-cache" still lets the browser keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


class _NoQueryStrings(logging.Filter):
    """Drop query strings from the development server's access log: a search for a
    customer's name is personal data, and logs are kept and shared."""

    _QUERY = re.compile(r"\?[^ \"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(self._QUERY.sub("", arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        return True
