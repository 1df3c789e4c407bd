#!/usr/bin/env bash
# The container image, assembled and run without a container engine: what the Dockerfile's two
# stages do, done on this machine, then the image's own commands run in a chroot as its user.
#
#   sudo scripts/image-chroot.sh            # SQLite: standalone, the health check, a task
#   sudo scripts/with-postgres.sh scripts/image-chroot.sh   # also migrate, serve and a worker
#
# 1. The build stage's RUN line (read from the Dockerfile), with this machine's Swift toolchain
#    instead of the swift:VERSION-bookworm image (it warns when the versions differ), into a
#    scratch directory: the static binary and the resource bundles, stripped.
# 2. A Debian bookworm root file system (debootstrap --variant=minbase: what debian:bookworm-slim
#    is made of), then the runtime stage's RUN line (read from the Dockerfile) inside it: its
#    packages, the user, the volume's directory; the staged files copied to /usr/local/bin.
# 3. Every shared library the binary needs is found in that root file system (ldd in the chroot).
# 4. Run in the chroot as the Dockerfile's USER, with its ENV and WORKDIR: `baton standalone`
#    (the image's CMD) with tokens, its HEALTHCHECK command, a task submitted and waited for, the
#    `http` kind on an https URL (CA certificates; IMAGE_CHROOT_HTTPS_URL, by default the Debian
#    mirror's; behind a proxy that re-signs TLS, name its CA with IMAGE_CHROOT_EXTRA_CA), a cron schedule in a time zone (tzdata), SIGTERM → exit 0. With BATON_TEST_POSTGRES_URL:
#    `baton migrate` (the migrations' bundle found next to the binary), `baton serve`, `baton
#    worker`, a task through them.
#
# Needs root (debootstrap, chroot, mounting /proc), debootstrap (apt-get install debootstrap)
# and a Debian mirror. Takes about 12 minutes on 2 cores (the static build is most of it), so
# CI does not run it; docs/deploy.md gives its last result. Work files go to
# IMAGE_CHROOT_DIR (default /tmp/baton-image-chroot), the build to IMAGE_CHROOT_SCRATCH (default
# its build/; SwiftPM's module cache records the path, so a scratch directory cannot be moved);
# the root file system is reused when it exists (delete the directory to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
WORK="${IMAGE_CHROOT_DIR:-/tmp/baton-image-chroot}"
ROOT="$WORK/rootfs"
SCRATCH="${IMAGE_CHROOT_SCRATCH:-$WORK/build}"
PORT="${IMAGE_CHROOT_PORT:-18080}"
say() { echo "image-chroot: $*"; }
fail() { echo "image-chroot: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || fail "needs debootstrap (apt-get install -y debootstrap)"
mkdir -p "$WORK"

# The Dockerfile, read: each stage's RUN lines (continuations joined), the runtime stage's ENV,
# USER, WORKDIR and HEALTHCHECK command, the Swift version argument.
python3 - "$REPO/Dockerfile" "$WORK/dockerfile.env" <<'EOF'
import json, re, shlex, sys
lines, joined = open(sys.argv[1]).read().splitlines(), []
current = ""
for line in lines:
    if line.lstrip().startswith("#") and not current:
        continue
    if line.rstrip().endswith("\\"):
        current += line.rstrip()[:-1] + " "
        continue
    current += line
    if current.strip():
        joined.append(current.strip())
    current = ""
stages, out = [], {}
for instruction in joined:
    word, _, rest = instruction.partition(" ")
    word = word.upper()
    if word == "ARG" and rest.startswith("SWIFT_VERSION="):
        out["SWIFT_VERSION"] = rest.split("=", 1)[1]
    elif word == "FROM":
        stages.append({"from": rest, "run": [], "env": [], "user": None, "workdir": None, "health": None})
    elif word == "RUN":
        stages[-1]["run"].append(rest)
    elif word == "ENV":
        stages[-1]["env"] += shlex.split(rest)
    elif word == "USER":
        stages[-1]["user"] = rest.strip()
    elif word == "WORKDIR":
        stages[-1]["workdir"] = rest.strip()
    elif word == "HEALTHCHECK":
        stages[-1]["health"] = json.loads(rest[rest.index("CMD") + 3:].strip())
build, runtime = stages[0], stages[-1]
assert len(stages) == 2 and len(build["run"]) == 2 and len(runtime["run"]) == 1, "expected two stages as docs/deploy.md describes"
out.update(
    BUILD_FROM=build["from"], RUNTIME_FROM=runtime["from"], BUILD_DEPS=build["run"][0], BUILD_RUN=build["run"][1],
    RUNTIME_RUN=runtime["run"][0], RUNTIME_ENV=" ".join(runtime["env"]), RUNTIME_USER=runtime["user"],
    RUNTIME_WORKDIR=runtime["workdir"], HEALTHCHECK=" ".join(shlex.quote(a) for a in runtime["health"]))
with open(sys.argv[2], "w") as f:
    for key, value in out.items():
        f.write(f"{key}={shlex.quote(value)}\n")
EOF
# shellcheck disable=SC1091
. "$WORK/dockerfile.env"
say "build stage: $BUILD_FROM; runtime stage: $RUNTIME_FROM; user $RUNTIME_USER"
case "$(swift --version 2>&1)" in
*"Swift version $SWIFT_VERSION "*) say "this machine's Swift is $SWIFT_VERSION, as the build image's" ;;
*) say "warning: this machine's Swift is not $SWIFT_VERSION (the build image's): $(swift --version 2>&1 | head -1)" ;;
esac
case "$RUNTIME_FROM" in debian:*-slim) SUITE="${RUNTIME_FROM#debian:}" SUITE="${SUITE%-slim}" ;; *) fail "runtime image $RUNTIME_FROM is not debian:SUITE-slim" ;; esac

# 1. The build stage: its libsqlite3-dev must be here already; its build line, pointed at a
#    scratch directory and a staging directory of ours.
dpkg -s libsqlite3-dev >/dev/null 2>&1 || fail "the build stage installs libsqlite3-dev; install it here too"
STAGING="$WORK/staging"
rm -rf "$STAGING"
RUN="${BUILD_RUN//swift build/swift build --scratch-path $SCRATCH}"
RUN="${RUN//\/staging/$STAGING}"
say "build: $RUN"
started=$SECONDS
(cd "$REPO" && sh -ec "$RUN") >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; fail "the build stage's RUN line failed"; }
say "built in $((SECONDS - started)) s: $(du -h "$STAGING/baton" | cut -f1) stripped; staged: $(cd "$STAGING" && echo *)"

# 2. The runtime stage's root file system.
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    say "debootstrap --variant=minbase $SUITE from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
        tail -20 "$WORK/debootstrap.log"
        fail "debootstrap"
    }
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    say "runtime: $RUNTIME_RUN"
    chroot "$ROOT" /bin/sh -ec "$RUNTIME_RUN" >"$WORK/runtime-run.log" 2>&1 || {
        tail -20 "$WORK/runtime-run.log"
        fail "the runtime stage's RUN line failed"
    }
fi
cp -R "$STAGING/." "$ROOT/usr/local/bin/"
# Behind a proxy that re-signs TLS (as where Baton is developed), its CA is added to the root
# file system's trust store, as a user of the image behind one would add it to theirs.
if [ -n "${IMAGE_CHROOT_EXTRA_CA:-}" ]; then
    cp "$IMAGE_CHROOT_EXTRA_CA" "$ROOT/usr/local/share/ca-certificates/image-chroot-extra.crt"
    chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates"
    say "trusted also: $IMAGE_CHROOT_EXTRA_CA"
fi
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    umount "$ROOT/proc" 2>/dev/null || true
}
trap cleanup EXIT

# 3. Libraries.
missing="$(chroot "$ROOT" ldd /usr/local/bin/baton | grep "not found" || true)"
[ -z "$missing" ] || fail "libraries missing from the runtime image: $missing"
say "libraries, all in the runtime image: $(chroot "$ROOT" ldd /usr/local/bin/baton | awk '/=>/ {print $1}' | tr '\n' ' ')"

# 4. Run as the image runs: its USER, ENV (the port overridden to a free one here) and WORKDIR.
# It execs: call it in a subshell, `(in_image …)`, `$(in_image …)` or `(in_image …) &` (whose
# $! is then the process itself).
# shellcheck disable=SC2086
in_image() {
    exec chroot --userspec="$RUNTIME_USER" "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$RUNTIME_WORKDIR" \
        $RUNTIME_ENV BATON_HTTP_PORT="${NODE_PORT:-$PORT}" ${EXTRA_ENV:-} /bin/sh -c "cd $RUNTIME_WORKDIR && exec \"\$@\"" sh "$@"
}
say "as user $(in_image id -un) ($(in_image id -u)), $(in_image baton --version)"
wait_ready() {
    for _ in $(seq 1 100); do
        (in_image baton health --server "http://127.0.0.1:$1" --timeout 1) >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
health() { # the image's HEALTHCHECK command, on this run's port
    local command="${HEALTHCHECK//:8080/:$1}"
    eval "(in_image $command)"
}
TOKEN="image-chroot-$RANDOM$RANDOM"
HTTPS_URL="${IMAGE_CHROOT_HTTPS_URL:-https://deb.debian.org/debian/}"
HTTPS_HOST="${HTTPS_URL#https://}" HTTPS_HOST="${HTTPS_HOST%%/*}"
# The allowlist: the host may resolve to a private address here (a proxy).
(EXTRA_ENV="BATON_AUTH_TOKENS=admin:$TOKEN BATON_HTTP_KIND_ALLOWLIST=$HTTPS_HOST" in_image baton standalone) >"$WORK/standalone.log" 2>&1 &
STANDALONE=$!
PIDS+=("$STANDALONE")
wait_ready "$PORT" || { tail -20 "$WORK/standalone.log"; fail "baton standalone did not become ready"; }
say "healthcheck: $(health "$PORT")"
say "a task: $(in_image baton submit echo --args '{"image":1}' --wait --server "http://127.0.0.1:$PORT" --token "$TOKEN" | tr '\n' ' ')"
fetched="$( (in_image baton submit http --args "{\"url\": \"$HTTPS_URL\"}" --max-attempts 1 --wait --server "http://127.0.0.1:$PORT" \
    --token "$TOKEN") 2>&1 | head -c 160 | tr '\n' ' ')" || true
case "$fetched" in succeeded*) ;; *) fail "the http kind on $HTTPS_URL (CA certificates): $fetched" ;; esac
say "the http kind on $HTTPS_URL (CA certificates): $fetched"
(in_image baton schedule add image-chroot-tz echo --replace --cron '0 9 * * *' --timezone Europe/Paris --server "http://127.0.0.1:$PORT" \
    --token "$TOKEN") >/dev/null
say "a schedule at 09:00 Europe/Paris: $(in_image baton schedule show image-chroot-tz --server "http://127.0.0.1:$PORT" --token "$TOKEN" | grep -m1 '^next:')"
(in_image ls -l "$RUNTIME_WORKDIR") | grep -q "baton.db" || fail "no SQLite database in $RUNTIME_WORKDIR"
stopped() { # PID NAME: SIGTERM, then its exit status must be 0
    local rc=0
    kill -TERM "$1"
    wait "$1" || rc=$?
    [ "$rc" = 0 ] || fail "$2 exited $rc on SIGTERM"
    say "SIGTERM: $2 exited 0"
}
stopped "$STANDALONE" "baton standalone"
rc=0
(in_image baton health --server "http://127.0.0.1:$PORT" --timeout 1) >"$WORK/health-down.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the health check passed with no node"
say "health check with no node: exit $rc, $(cat "$WORK/health-down.log")"

if [ -n "${BATON_TEST_POSTGRES_URL:-}" ]; then
    SERVE_PORT=$((PORT + 1))
    export EXTRA_ENV="BATON_STORE=$BATON_TEST_POSTGRES_URL"
    migrated="$(in_image baton migrate 2>&1)"
    [ "$migrated" = migrated ] || fail "baton migrate printed: $migrated"
    say "baton migrate: $migrated"
    (EXTRA_ENV="$EXTRA_ENV BATON_AUTH_TOKENS=admin:$TOKEN" NODE_PORT=$SERVE_PORT in_image baton serve) >"$WORK/serve.log" 2>&1 &
    SERVE=$!
    PIDS+=("$SERVE")
    wait_ready "$SERVE_PORT" || { tail -20 "$WORK/serve.log"; fail "baton serve did not become ready"; }
    (EXTRA_ENV="" in_image baton worker --server "http://127.0.0.1:$SERVE_PORT" --token "$TOKEN") >"$WORK/worker.log" 2>&1 &
    WORKER=$!
    PIDS+=("$WORKER")
    say "PostgreSQL: a task through serve and a worker: $(in_image baton submit echo --args '{"image":2}' --wait \
        --server "http://127.0.0.1:$SERVE_PORT" --token "$TOKEN" | tr '\n' ' ')"
    stopped "$WORKER" "baton worker"
    stopped "$SERVE" "baton serve"
    if grep -h "level=warning\|level=error" "$WORK/serve.log" "$WORK/worker.log"; then fail "warnings or errors above"; fi
fi
say "passed"
