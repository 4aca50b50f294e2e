"""gunicorn settings for production: several workers on PostgreSQL.

    DATABASE_URL=postgresql://qmsflow@db/qmsflow QMSFLOW_ENV=production \
    QMSFLOW_SECRET_KEY=... QMSFLOW_DEFINITIONS=/srv/qmsflow/definitions/acme \
    QMSFLOW_PUBLIC_URL=https://service.acme.example \
    gunicorn -c deploy/gunicorn.conf.py "qmsflow.web:create_app()"

Workers share nothing but the database (sessions are rows there, behind a signed cookie), so
add workers or hosts behind a load balancer as load grows. Behind a reverse proxy, set
QMSFLOW_TRUST_PROXY_HOPS=1 so sign-in throttling sees the client's address, not the proxy's.
"""

import multiprocessing
import os

bind = os.environ.get("QMSFLOW_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("QMSFLOW_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = 60  # a PDF of a long case takes a few seconds; nothing legitimate takes a minute
# Each worker builds the app after the fork: every worker opens its own database pool.
preload_app = False
accesslog = "-"
# %(U)s is the path without its query string: searches hold customers' names (personal data),
# which have no place in access logs.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# Behind a reverse proxy that terminates TLS, trust its X-Forwarded-* headers (gunicorn: the
# scheme; the application's own ProxyFix, QMSFLOW_TRUST_PROXY_HOPS, the client's address).
forwarded_allow_ips = os.environ.get("QMSFLOW_PROXIES", "127.0.0.1")
