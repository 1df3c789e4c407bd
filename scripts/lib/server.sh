# Sourced by the scripts that run a command beside a private, throw-away server
# (with-moto.sh, with-redis.sh): the server on a free loopback port, stopped on exit.

server_pid=""
server_cleanup_extra=""

# Stops the server (SIGTERM, then SIGKILL after 5 s), runs $server_cleanup_extra, and exits
# with the status the script was exiting with.
server_cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -z "$server_cleanup_extra" ] || eval "$server_cleanup_extra"
  exit "$status"
}
trap server_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME ANSWERS TRIES DELAY COMMAND...: runs COMMAND in the background, `{port}` in
# its arguments replaced by a free port of 127.0.0.1 (and `{port+1}` by the next one, free
# too, for a server that listens on two) and its output going to $server_log
# (default /dev/null), until `ANSWERS PORT` succeeds, asking TRIES times DELAY seconds apart,
# on up to ten ports. Sets $server_port and $server_pid; if the server never answers, prints
# $server_log and exits 1.
start_server() {
  local name=$1 answers=$2 tries=$3 delay=$4
  shift 4
  local started=0 port args arg
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" && continue
    port_in_use "$((port + 1))" && continue
    args=()
    for arg in "$@"; do
      arg="${arg//\{port\}/$port}"
      args+=("${arg//\{port+1\}/$((port + 1))}")
    done
    "${args[@]}" >"${server_log:-/dev/null}" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 "$tries"); do
      kill -0 "$server_pid" 2>/dev/null || break
      if "$answers" "$port" 2>/dev/null; then started=1; break; fi
      sleep "$delay"
    done
    [ "$started" = "1" ] && break
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  done
  if [ "$started" != "1" ]; then
    echo "$name: could not start the server" >&2
    [ -z "${server_log:-}" ] || cat "$server_log" >&2 || true
    exit 1
  fi
  server_port=$port
}
