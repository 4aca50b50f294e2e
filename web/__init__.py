"""Flask application and the ``qmsflow`` command line."""
