# syntax=docker/dockerfile:1
#
# The driftless image: one binary that is both the controller (the
# `controller` subcommand, what `driftless install` runs) and the CLI.
#
#   docker build -t ghcr.io/driftless-dev/driftless:0.1.0 .
#
# The tag must match the workspace version: `driftless install` deploys
# ghcr.io/driftless-dev/driftless:<version of the CLI that installs it>.
# Nothing in CI builds this image yet; it is kept small and plain so that
# building it needs only Docker with BuildKit.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the build between builds; the binary is
# copied out of the cached target dir because the mount is not in the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p driftless \
    && install -D target/release/driftless /out/driftless

# Debian slim rather than distroless: git over SSH needs an `ssh` client,
# HTTPS needs the CA bundle, and a chart's `dateInZone` the zone database.
FROM debian:bookworm-slim
# `ssh` exits at once ("No user exists for uid 65532") unless the UID it
# runs as has a passwd entry, so the UID the install manifests run as gets
# one (runAsNonRoot, read-only root fs; /data and /tmp are emptyDirs).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates openssh-client tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 driftless \
    && useradd --uid 65532 --gid 65532 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin driftless
COPY --from=builder /out/driftless /usr/local/bin/driftless
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/driftless"]
