# One image pattern for every service: `docker build --build-arg SERVICE=cases -t echo-cases .`
# Multi-stage: the build stage has uv and compilers; the final stage only Python, the locked
# environment and the sources, running as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<name>" && false)
# An extra certificate authority for outbound HTTPS (a proxy's), if the builder needs one:
# `--secret id=ca,src=/path/to/ca-bundle.crt`. A build secret never lands in a layer.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
ENV PATH=/opt/uv/bin:$PATH
WORKDIR /app
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
COPY pyproject.toml uv.lock ./
COPY contracts contracts
COPY runtime runtime
COPY ops ops
COPY services services
# uv's download cache persists between builds (one download for all five images).
RUN --mount=type=secret,id=ca,required=false --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    uv sync --frozen --no-dev --package "echo-${SERVICE}" --package echo-hub

FROM ${PYTHON_IMAGE}
ARG SERVICE
ENV SERVICE=${SERVICE} PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --gid 10001 echo && useradd --uid 10001 --gid echo --no-create-home echo
WORKDIR /app
COPY --from=build --chown=root:root /app /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
CMD ["sh", "-c", "exec python -m echo_${SERVICE} serve --host 0.0.0.0 --port 8000"]
