# One Dockerfile for every service of services/registry.json, built from the repository root:
#
#   docker build --build-arg SERVICE=sales --build-arg PORT=8003 -t sales .                 serving
#   docker build --target train --build-arg SERVICE=sales -t sales:train .                  training
#
# (`make images` builds them all with podman; scripts/build_and_push_ecr.sh pushes them.)
# A serving image holds the serving dependencies of pyproject.toml and its own service's code,
# nothing else. Layers go from most shared to least: base, user, dependencies (the same layer for
# every service, rebuilt only when the pins change), then the service's code.
#
# Runs as Fargate runs it: uid 10001 and a read-only root file system. The two writable paths,
# /tmp (temp files: gunicorn's worker and metrics files, training's build folders) and /app/var
# (the project's state folder var/: model cache, flow's SQLite state, demand's warehouse), are
# VOLUMEs owned by that user, so ECS gives the task volumes mounted there (terraform/modules/
# ecs_service) this owner instead of root 0755.

FROM python:3.11-slim-bookworm AS requirements
WORKDIR /src
COPY pyproject.toml ./
# The pins live in pyproject.toml only; these files change when the pins do, and not when any
# other line of pyproject.toml does, so the install layers below stay cached.
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
open('serving.txt', 'w').write('\n'.join(p['dependencies']) + '\n'); \
open('train.txt', 'w').write('\n'.join(p['optional-dependencies']['train']) + '\n')"

FROM python:3.11-slim-bookworm AS serving-deps
# ORT_DISABLE_TELEMETRY: onnxruntime would otherwise try to persist a telemetry device id
# under $HOME (read-only here) and warn at every start.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORT_DISABLE_TELEMETRY=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app \
    && chown 10001:10001 /tmp && chmod 1777 /tmp \
    && install -d -o 10001 -g 10001 -m 0755 /app/var
COPY --from=requirements /src/serving.txt /requirements/serving.txt
RUN pip install --no-cache-dir -r /requirements/serving.txt

# Training image: the serving layers plus the train extra, the service's code and data/.
#   python -m services.<SERVICE>.train [--small] publishes to MODEL_STORE_URI.
FROM serving-deps AS train
# lightgbm loads the OpenMP runtime (libgomp.so.1), which the slim base does not have.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=requirements /src/train.txt /requirements/train.txt
RUN pip install --no-cache-dir -r /requirements/serving.txt -r /requirements/train.txt
# ARG after the shared layers: a build argument is part of every later RUN's cache key, so declared
# above them it made each service reinstall the training dependencies (five copies of ~550 MB).
ARG SERVICE
WORKDIR /app
COPY services/__init__.py services/registry.json services/
COPY services/common services/common
COPY services/${SERVICE} services/${SERVICE}
COPY data data
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/train.py" \
    && python -m compileall -q --invalidation-mode unchecked-hash services
ENV SERVICE=${SERVICE}
USER 10001:10001
VOLUME ["/tmp", "/app/var"]
CMD ["sh", "-c", "exec python -m \"services.${SERVICE}.train\""]

# Serving image (the default target).
FROM serving-deps AS service
ARG SERVICE
ARG PORT
WORKDIR /app
COPY services/__init__.py services/registry.json services/
COPY services/common services/common
COPY services/${SERVICE} services/${SERVICE}
# The build arguments must name a registry service and its port.
RUN python -c "import json, sys; s = {e['name']: e for e in json.load(open('services/registry.json'))['services']}; \
sys.exit(None if '${SERVICE}' in s and str(s['${SERVICE}']['port']) == '${PORT}' else \
'SERVICE and PORT must be a services/registry.json entry, got ${SERVICE}:${PORT}')" \
    && python -m compileall -q --invalidation-mode unchecked-hash services
ENV SERVICE=${SERVICE} \
    PORT=${PORT}
USER 10001:10001
EXPOSE ${PORT}
VOLUME ["/tmp", "/app/var"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/%s/ready' % (os.environ['PORT'], os.environ['SERVICE']), timeout=2)"]
CMD ["gunicorn", "-c", "services/common/gunicorn_conf.py"]
