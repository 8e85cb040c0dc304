# syntax=docker/dockerfile:1.7
# One image per task binary. Build from the repository root:
#   docker build -f images/task.Dockerfile --build-arg TASK=create-branch \
#     -t ghcr.io/argo-sandbox/create-branch:0.1.0 .
# images/images.tsv lists every image with its Dockerfile and arguments;
# images/build builds them all.

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# libgit2 is vendored and built with the system's OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG TASK
# Dependencies and the target dir live in cache mounts: a rebuild after a
# source change recompiles only the workspace crates.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin "${TASK}" \
 && install -D -m 0755 "target/release/${TASK}" /out/task

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin sandbox
ARG TASK
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="${TASK}" \
      org.opencontainers.image.description="argo-sandbox task ${TASK}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/argo-sandbox/argo-sandbox" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/task /usr/local/bin/task
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/task"]
