# syntax=docker/dockerfile:1.7
# restore-db streams backups into psql / pg_restore, so its image carries
# the PostgreSQL client tools; prepare-db (--build-arg TASK=prepare-db)
# needs the same. PG_MAJOR must be >= the server's major version
# (pg_restore reads dumps of older servers, not newer ones); the client of
# version N restores into servers N-2..N reliably. Build:
#   docker build -f images/restore-db.Dockerfile --build-arg PG_MAJOR=16 \
#     -t ghcr.io/argo-sandbox/restore-db:0.1.0 .

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
ARG TASK=restore-db
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin "${TASK}" \
 && install -D -m 0755 "target/release/${TASK}" /out/task

# The PGDG image of the chosen major carries exactly that client version.
ARG PG_MAJOR=16
FROM docker.io/library/postgres:${PG_MAJOR}-${DEBIAN_RELEASE}
ARG VERSION=0.1.0
ARG TASK=restore-db
LABEL org.opencontainers.image.title="${TASK}" \
      org.opencontainers.image.description="argo-sandbox task ${TASK} with the PostgreSQL client tools" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/argo-sandbox/argo-sandbox" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/task /usr/local/bin/task
# The postgres image's own non-root user; the server itself never runs here.
USER 999:999
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/task"]
