# syntax=docker/dockerfile:1
#
# driftwatch container image: `driftwatch run` (and every other subcommand) as a non-root
# user on Debian bookworm-slim.
#
#   docker build -t driftwatch:dev .
#   docker run --rm -v "$PWD/my.toml:/etc/driftwatch/driftwatch.toml:ro" -p 9464:9464 driftwatch:dev
#
# The default command is `run --config /etc/driftwatch/driftwatch.toml`: mount the
# configuration there (a ConfigMap in Kubernetes, a bind mount in compose) and set
# `[service] listen = "0.0.0.0:9464"`, or nothing outside the container reaches /metrics,
# /healthz, /readyz and /api/v1. Any other subcommand works too:
# `docker run --rm driftwatch:dev check-config --config ...`, `... simulate --out /tmp/x`.
#
# The image has no HEALTHCHECK: the port is whatever `[service] listen` says. Kubernetes
# probes /healthz and /readyz (deploy/k8s/), compose checks /healthz with bash
# (deploy/compose/compose.yaml).
#
# Checked by `hadolint Dockerfile` in tests/deploy.rs (no image is built in CI: there is
# no Docker engine there).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- build -------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build

# rdkafka builds librdkafka from source with its own configure script and make (no cmake),
# against OpenSSL (the `ssl` feature) and zlib; reqwest uses OpenSSL too (native-tls).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        pkg-config libssl-dev zlib1g-dev make g++ \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the binary is built from: Cargo.toml names the benches, so they must exist for
# cargo to read the manifest; crates/ holds the workspace's core crate; tests, examples and
# data are not needed.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY crates ./crates
COPY src ./src

# The registry and the target folder are cache mounts, so a rebuild after a source change
# compiles driftwatch alone, not librdkafka and every dependency again. The binary is copied
# out of the cached target folder (cache mounts are not part of the layer). The release
# profile keeps line tables (`debug = 1`); --strip-debug drops them (about 100 MB to 20 MB)
# but keeps the symbols, so a panic's backtrace still names its functions.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin driftwatch \
    && install -D -m 0755 target/release/driftwatch /out/driftwatch \
    && strip --strip-debug /out/driftwatch \
    && /out/driftwatch --version

# --- runtime -----------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim

# The binary links libssl3, libcrypto3 and zlib (and glibc, libgcc); ca-certificates lets
# it verify the brokers' and the on-call destinations' TLS certificates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/*

# uid/gid 10001, as deploy/k8s and deploy/report expect (runAsUser: 10001). The folders
# below /var/lib/driftwatch belong to it, so a named volume mounted on one of them starts
# out writable by driftwatch (compose: the audit log, the simulated company).
RUN groupadd --system --gid 10001 driftwatch \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/driftwatch --shell /usr/sbin/nologin driftwatch \
    && install -d -m 0755 -o 10001 -g 10001 \
        /var/lib/driftwatch /var/lib/driftwatch/audit /var/lib/driftwatch/geoip \
        /var/lib/driftwatch/sim \
    && install -d -m 0755 /etc/driftwatch

COPY --from=build /out/driftwatch /usr/local/bin/driftwatch
# The curated consumer-VPN list (geoip/README.md) and the documented example configuration.
COPY geoip/consumer-vpn-providers.csv /usr/share/driftwatch/geoip/consumer-vpn-providers.csv
COPY driftwatch.example.toml /usr/share/driftwatch/driftwatch.example.toml

LABEL org.opencontainers.image.title="driftwatch" \
      org.opencontainers.image.description="Post-hire login and network anomaly detection" \
      org.opencontainers.image.licenses="Apache-2.0"

USER 10001:10001
WORKDIR /var/lib/driftwatch
ENV DRIFTWATCH_LOG=info
# [service] listen: /metrics, /healthz, /readyz and /api/v1.
EXPOSE 9464
# SIGTERM (Docker's and Kubernetes' default stop signal) drains and commits within
# [service] shutdown_deadline_secs (30 s): give `docker stop` and the pod more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["driftwatch"]
CMD ["run", "--config", "/etc/driftwatch/driftwatch.toml"]
