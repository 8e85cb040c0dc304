# syntax=docker/dockerfile:1.7
# The executor plugin runs as a sidecar of the workflow agent and must run
# as the agent's uid, 8737, to read the agent's token. Tasks write their
# temporary files to /tmp (debian's, mode 1777) on the writable root file
# system, and patch-kustomize finds kubectl on PATH. It links every task,
# so it is built for size (profile release-small: 9.0 MB instead of 11.4 MB,
# see BENCHMARKS.md). Build:
#   docker build -f images/plugin.Dockerfile -t ghcr.io/argo-sandbox/sandbox-plugin:0.1.0 .

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm
ARG KUBECTL_VERSION=v1.32.4

# patch-kustomize --verify-render runs `kubectl kustomize` (its Need::Tool).
FROM registry.k8s.io/kubectl:${KUBECTL_VERSION} AS kubectl

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile release-small --locked --bin sandbox-plugin \
 && install -D -m 0755 target/release-small/sandbox-plugin /out/sandbox-plugin

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 8737 --user-group --no-create-home --shell /usr/sbin/nologin agent
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sandbox-plugin" \
      org.opencontainers.image.description="argo-sandbox executor plugin: every task in the workflow agent, no pod per step" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/argo-sandbox/argo-sandbox" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
COPY --from=build /out/sandbox-plugin /usr/local/bin/sandbox-plugin
USER 8737:8737
EXPOSE 11355
ENTRYPOINT ["/usr/local/bin/sandbox-plugin"]
