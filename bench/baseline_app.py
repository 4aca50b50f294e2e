"""The qmsflow web app as bench/web_bench.py serves it: ``create_app()`` plus one trivial route.

``GET /bench/ping`` returns "ok" without login, database or template: the floor of a request
through the same gunicorn workers, the same Flask app and the same hooks (the inactivity check,
Flask-Login, CSRF, Babel, the security headers). The app reads its configuration from the
environment exactly as in production (``DATABASE_URL``, ``QMSFLOW_*``).

    gunicorn --pythonpath bench baseline_app:app
"""

from __future__ import annotations

from qmsflow.web import create_app

app = create_app()


@app.get("/bench/ping")
def bench_ping() -> tuple[str, int, dict[str, str]]:
    """The baseline: the smallest response the app can give."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
