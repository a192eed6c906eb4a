# A stand-in for the `postgres` image where no container registry is reachable: Debian's
# postgresql-15 with the official image's interface (POSTGRES_USER, POSTGRES_PASSWORD,
# /var/lib/postgresql/data, /docker-entrypoint-initdb.d/*.sql, pg_isready). Built by
# scripts/container-tier.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc /usr/share/man /var/lib/postgresql/15 \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY --chmod=755 postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["pg_isready", "-h", "127.0.0.1"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
