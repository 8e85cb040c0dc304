# syntax=docker/dockerfile:1.7
# hibernate renders each sandbox's overlay with `kubectl
# kustomize`, so its image carries kubectl. Build:
#   docker build -f images/hibernate.Dockerfile -t ghcr.io/argo-sandbox/hibernate:0.1.0 .

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm
ARG KUBECTL_VERSION=v1.32.4

FROM registry.k8s.io/kubectl:${KUBECTL_VERSION} AS kubectl

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hibernate \
 && install -D -m 0755 target/release/hibernate /out/hibernate

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin sandbox
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="hibernate" \
      org.opencontainers.image.description="argo-sandbox task hibernate with kubectl to render overlays" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/argo-sandbox/argo-sandbox" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
COPY --from=build /out/hibernate /usr/local/bin/task
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/task"]
