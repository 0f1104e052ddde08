"""gunicorn settings shared by every service image and by the local gateway.

Environment: PORT (default 8080), HOST (default 0.0.0.0 in containers), WEB_CONCURRENCY
(workers, default 2), GUNICORN_TIMEOUT, GUNICORN_KEEPALIVE (75), GUNICORN_HEADER_TIMEOUT (10),
PROMETHEUS_MULTIPROC_DIR, SERVICE (the app when none is given on the command line:
services.<SERVICE>.api:create_app(), as in the images).

Writes only under the temp dir (TMPDIR, default /tmp), one of the two writable volumes of a
container whose root file system is read-only.
"""
import os
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent: slow and idle clients cost a greenlet, not a worker (services/common/workers.py says why).
worker_class = "services.common.workers.JsonErrorGeventWorker"
worker_connections = 1000  # per worker; beyond it new connections wait in the listen backlog
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Idle keep-alive connections are kept longer than the ALB keeps its side (idle_timeout 60 s in
# terraform/modules/alb): were the target to close first, the ALB could send a request down a closing
# connection and answer 502. Under gevent an idle connection costs a greenlet. The time a client may
# take to send a request's headers once it has begun is bounded separately (GUNICORN_HEADER_TIMEOUT,
# 10 s; services/common/workers.py).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# Bound request lines and headers: slow or huge headers are refused before the app sees them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None
# gunicorn's runtime control socket (gunicornc) would be created under $HOME or
# $XDG_RUNTIME_DIR; nothing here uses it, and ECS stops tasks with SIGTERM.
control_socket_disable = True
if os.environ.get("SERVICE"):
    wsgi_app = f"services.{os.environ['SERVICE']}.api:create_app()"

# Metrics from every worker are aggregated through files in this folder: a fresh one per start
# (prometheus-client wants it empty when the server starts).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
