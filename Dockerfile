# syntax=docker/dockerfile:1
# nemo-evaluator-operator image: the operator wheel and its runtime dependencies on a slim
# Python, run as an unprivileged user. Build:  docker build -t nemo-evaluator-operator:dev .
ARG PYTHON_IMAGE=python:3.11-slim

# Build stage: the operator wheel plus wheels of every runtime dependency (never the
# emulator or test extras).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip wheel --wheel-dir /wheels .

# Final stage: install from those wheels only (no index, no compiler, no sources).
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels nemo-evaluator-operator \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nonroot
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# kopf's liveness endpoint (OPERATOR_LIVENESS_ENDPOINT, default http://0.0.0.0:8080/healthz).
EXPOSE 8080
ENTRYPOINT ["nemo-evaluator-operator"]
