"""What a qmsflow process works with: one database, one definition set, one case service.

The web application builds one at start-up and each command builds one when it first needs
it, both from the same settings (:func:`qmsflow.settings.load`) through
:meth:`Runtime.from_settings`, so they work on the same database and definitions. Everything
the case service depends on (clock, password hasher, the maker of customers' survey links) is
passed in when it is built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from qmsflow import settings as settings_loader
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import (
    CaseService,
    UnknownVersion,
    Versions,
    audit,
    connect,
    database_url,
    drafts,
    outbox,
    session_factory,
    users,
    utc_now,
)
from qmsflow.engine.problems import DefinitionError

from .mail import MailSettingsError, SmtpSettings
from .surveys import tokens

LOG = logging.getLogger(__name__)


class Runtime:
    """The database (``url``) and the definition set this deployment serves.

    The served set is the version last activated in the database (see
    :func:`~qmsflow.engine.persistence.drafts.activate`) or, until one is, the set in the
    folder ``definitions``. :meth:`refresh` (each web request calls it) reads the activation
    marker, so every worker process serves a new activation on its next request without a
    restart. Sets are compiled once per process and kept by hash; requests never parse YAML.
    """

    def __init__(self, url: str | None, definitions: Path | str,
                 clock: Callable[[], datetime] = utc_now,
                 hasher: PasswordHasher = users.HASHER, compiled: DefinitionSet | None = None,
                 survey_link: outbox.SurveyLink | None = None,
                 settings: Mapping[str, Any] | None = None, audit_keys: audit.Keys | None = None,
                 **engine_options: Any) -> None:
        self.url = url or database_url()
        self.engine = connect(self.url, **engine_options)
        self.sessions = session_factory(self.engine, audit_keys)
        self.definitions_path = Path(definitions)
        self.clock = clock
        self.hasher = hasher
        self.survey_link = survey_link
        #: The settings this runtime was made from (empty when made directly, in tests).
        self.settings: Mapping[str, Any] = settings or {}
        if compiled is not None:  # already compiled by the caller (tests, the demo)
            self.__dict__["folder_definition"] = compiled
        self.versions = Versions()
        self._current: DefinitionSet | None = None
        self._marker: tuple[int, str] | None = None
        self._service: CaseService | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *,
                      clock: Callable[[], datetime] = utc_now,
                      hasher: PasswordHasher = users.HASHER,
                      compiled: DefinitionSet | None = None) -> Runtime:
        """The runtime the settings describe: their database (``DATABASE_URL``, else SQLite in
        the ``INSTANCE`` folder), definitions and the survey links signed with their key."""
        url = database_url({"DATABASE_URL": settings.get("DATABASE_URL") or "",
                            "QMSFLOW_INSTANCE": str(settings.get("INSTANCE", "instance"))})
        link = tokens.survey_link(settings_loader.signing_keys(settings),
                                  str(settings["PUBLIC_URL"]), clock=clock)
        key, earlier = settings_loader.audit_keys(settings)
        keys = audit.Keys(key.encode("utf-8"), tuple(old.encode("utf-8") for old in earlier))
        return cls(url, settings["DEFINITIONS"], clock=clock, hasher=hasher, compiled=compiled,
                   survey_link=link, settings=settings, audit_keys=keys)

    @cached_property
    def folder_definition(self) -> DefinitionSet:
        """The set in the ``definitions`` folder, compiled (raises DefinitionError listing
        every problem): served until a version is activated in the database."""
        return load(self.definitions_path)

    @property
    def definition(self) -> DefinitionSet:
        """The served set: the active version, else the folder's set."""
        if self._current is None:
            self.refresh()
        assert self._current is not None
        return self._current

    def refresh(self) -> DefinitionSet:
        """Serve the version activated last in the database if it changed since the last
        call (one small read; the compiled set is kept by hash), and return the served set."""
        marker = drafts.read_active_marker(self.engine)
        if marker is None:
            chosen = self.folder_definition
        elif marker == self._marker and self._current is not None:
            return self._current
        else:
            try:
                with self.sessions() as session:
                    chosen = self.versions.get(session, marker[1])
            except (DefinitionError, UnknownVersion):
                # A stored version that no longer compiles: keep serving what was served, and
                # say why in the log (audit verify reports the altered version too).
                LOG.exception("the activated definition version %s cannot be served",
                              marker[1][:12])
                if self._current is not None:
                    return self._current
                chosen = self.folder_definition
        self._marker = marker
        self._current = chosen
        if self._service is not None:
            self._service.current = chosen
            self.versions.remember(chosen)
        return chosen

    @property
    def service(self) -> CaseService:
        """The case service over this database and the served set."""
        if self._service is None:
            self._service = CaseService(self.sessions, self.versions, self.definition,
                                        self.clock, self.hasher, self.survey_link)
        return self._service

    def smtp(self) -> SmtpSettings:
        """The mail server settings (``SMTP_*``); MailSettingsError when they are wrong.

        Production sends over the network only encrypted: e-mails carry customers' names and
        complaints, and a password would cross in clear. A relay on this machine may take
        plain SMTP (it encrypts onward itself).
        """
        chosen = SmtpSettings.from_env({f"QMSFLOW_{key}": str(value)
                                        for key, value in self.settings.items()
                                        if key.startswith("SMTP_") and value is not None})
        local = chosen.host == "localhost" or chosen.host.startswith("127.") or (
            chosen.host == "::1")
        if self.settings.get("ENV") == "production" and chosen.security == "none" and not local:
            raise MailSettingsError(
                f"QMSFLOW_SMTP_SECURITY is 'none' for {chosen.host}: production sends mail "
                "over the network only encrypted; set it to 'starttls' or 'ssl' (or relay "
                "through a mail server on this machine)")
        return chosen

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()
