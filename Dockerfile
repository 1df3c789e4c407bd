# syntax=docker/dockerfile:1
#
# Baton's container image: one `baton` binary (Swift standard library linked in), the
# PostgreSQL migrations' resource bundle next to it, a non-root user and a volume for the
# SQLite database. docs/deploy.md explains how to build and run it; docker-compose.yml runs
# PostgreSQL, two nodes and two workers from it.
#
#   docker build -t baton .
#   docker run -p 8080:8080 -v baton-data:/var/lib/baton -e BATON_AUTH_TOKENS=admin:s3cret baton
#
# The Swift toolchain Baton is built and tested with (`swift --version`); the build image is
# Debian 12 (bookworm), as is the runtime image below.
ARG SWIFT_VERSION=6.3.1

FROM swift:${SWIFT_VERSION}-bookworm AS build
# DL3008 (pin apt package versions) is ignored: Debian's stable archive replaces a package's
# version on each security update and drops the old one, so a pinned version stops
# installing; stable's current libsqlite3-dev is the one to build against.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY . .
# The product only (not the tests), release mode, the Swift runtime linked in statically so
# that the runtime image needs no Swift. The migrations of BatonPostgres are a resource bundle
# (baton_BatonPostgres.resources) that the binary looks for in its own directory, and stops
# without: every resource bundle of the build goes next to it.
RUN swift build -c release --product baton --static-swift-stdlib \
    && BIN="$(swift build -c release --show-bin-path)" \
    && mkdir -p /staging \
    && cp "$BIN/baton" /staging/baton \
    && cp -R "$BIN"/*.resources /staging/ \
    && test -d /staging/baton_BatonPostgres.resources/Migrations \
    && strip /staging/baton

FROM debian:bookworm-slim
# libsqlite3-0: the SQLite store; ca-certificates: https nodes, SQS and the `http` kind;
# tzdata: time zones of cron schedules. Then the user the process runs as (uid and gid
# 10001), and the directory of the volume, owned by it.
# DL3008 (pin apt package versions) is ignored, as above: stable's current security-patched
# versions are wanted, and a pinned one disappears from the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --home-dir /var/lib/baton --no-create-home --shell /usr/sbin/nologin baton \
    && mkdir -p /var/lib/baton \
    && chown baton:baton /var/lib/baton
COPY --from=build /staging/ /usr/local/bin/

# A node listens on every interface of the container (a node bound beyond loopback refuses
# to start without tokens, BATON_AUTH_TOKENS, unless BATON_INSECURE=true); the SQLite
# database lives on the volume. BATON_STORE=postgres://… uses PostgreSQL instead.
ENV BATON_HTTP_HOST=0.0.0.0 \
    BATON_HTTP_PORT=8080 \
    BATON_STORE=sqlite:/var/lib/baton/baton.db
WORKDIR /var/lib/baton
VOLUME ["/var/lib/baton"]
EXPOSE 8080
# Numeric, so that a runtime can tell it is not root without reading /etc/passwd (Kubernetes'
# runAsNonRoot): the user baton made above.
USER 10001:10001

# Ready: the node answers GET /ready, i.e. its store answers. Exit 0 if so, else 4.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["baton", "health", "--server", "http://127.0.0.1:8080", "--timeout", "3"]

ENTRYPOINT ["baton"]
# A whole scheduler in one container (store, HTTP API, in-process workers); `serve` and
# `worker` for a fleet (docker-compose.yml).
CMD ["standalone"]
