"""``qmsflow serve``: the development server (production runs gunicorn, see the README)."""

from __future__ import annotations

import click

from qmsflow.web.app import ConfigurationError, create_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--debug", is_flag=True, help="Reload on code changes and show the debugger "
                                             "(never on a network others can reach).")
def cli(host: str, port: int, debug: bool) -> None:
    """Serve the web application with Flask's development server.

    Reads the settings every command reads (instance/qmsflow.cfg, QMSFLOW_*, DATABASE_URL).
    """
    try:
        app = create_app()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    if debug and app.config["ENV"] == "production":
        # The debugger runs any Python a visitor types into an error page.
        app.extensions["qmsflow"].close()
        raise click.ClickException("--debug is refused in production: the debugger lets "
                                   "anyone who reaches an error page run code on the server")
    click.echo(f"qmsflow serves {app.config['DEFINITIONS']} at http://{host}:{port}/")
    app.run(host=host, port=port, debug=debug, use_reloader=debug)
