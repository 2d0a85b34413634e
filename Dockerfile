# syntax=docker/dockerfile:1
# The `runbook` image: `docker build -t runbook .`, then `docker run --rm runbook drill --all`.
# deploy/kubernetes/ runs it as `runbook serve` and as a nightly drill (tests/deploy.rs checks
# this file and those manifests against each other).

# --- build ------------------------------------------------------------------------------
# The oldest toolchain Cargo.toml's rust-version allows, on the Debian release the run stage
# uses, so the binary links against the same glibc it runs with.
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target directory are BuildKit caches, so a rebuild after a source change
# compiles only this crate; the binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin runbook \
    && cp target/release/runbook /usr/local/bin/runbook

# --- run --------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: https steps verify servers against the OS trust store
# (rustls-platform-verifier). The base image's `sh` stays: `command` steps given as a string
# run through `sh -c`, and the binary re-executes itself (/proc/self/exe) as each command's
# supervisor.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A named user in /etc/passwd: timelines record `user@host` as the actor, and a container has
# no USER variable. uid 10001 matches runAsUser in deploy/kubernetes.
RUN groupadd --gid 10001 runbook \
    && useradd --uid 10001 --gid runbook --home-dir /var/lib/runbook --no-create-home \
       --shell /usr/sbin/nologin runbook \
    && mkdir -p /var/lib/runbook/timelines \
    && chown -R runbook:runbook /var/lib/runbook
COPY --from=build /usr/local/bin/runbook /usr/local/bin/runbook
# The shipped runbooks, for `runbook run /usr/share/runbook/runbooks/...` and as examples;
# `runbook drill` has lb-502.yaml and the scenarios built in.
COPY runbooks /usr/share/runbook/runbooks
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
# Timelines go to ./timelines by default: a volume, so they outlive the container.
WORKDIR /var/lib/runbook
VOLUME ["/var/lib/runbook/timelines"]
# `runbook serve --listen 0.0.0.0:9095` is reachable from outside the container (its default,
# 127.0.0.1:9095, is not).
EXPOSE 9095
ENTRYPOINT ["runbook"]
CMD ["--help"]
