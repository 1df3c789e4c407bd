# Sourced by the scripts that check a live node (contract.sh, example.sh): the baton binary,
# and a `baton serve` on SQLite in a temporary directory that goes away with the script.

# Sets BATON_BIN to the built `baton` when it is not set already (building it).
ensure_baton_bin() {
  if [ -z "${BATON_BIN:-}" ]; then
    swift build --product baton
    BATON_BIN="$(swift build --show-bin-path)/baton"
  fi
}

# start_node NAME [VAR=VALUE...]: starts `baton serve` (log level warning unless the
# variables say otherwise) on a free loopback port with its database in a fresh directory,
# $node_dir, and waits for it to serve: sets $node_url and $node_pid. On exit the node is
# stopped and the directory removed. Its log is $node_dir/node.log.
start_node() {
  local name=$1
  shift
  node_dir=$(mktemp -d -t "baton-$name.XXXXXX")
  node_pid=
  trap stop_node EXIT
  env BATON_LOG_LEVEL=warning "$@" "$BATON_BIN" serve --store "sqlite:$node_dir/baton.db" --host 127.0.0.1 --port 0 \
    >"$node_dir/node.out" 2>"$node_dir/node.log" &
  node_pid=$!
  node_url=
  for _ in $(seq 100); do
    # The node's first line on stdout is its URL, printed once it listens.
    node_url=$(head -n 1 "$node_dir/node.out" 2>/dev/null || true)
    [ -n "$node_url" ] && return 0
    kill -0 "$node_pid" 2>/dev/null || { cat "$node_dir/node.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name: the node did not start" >&2
  exit 1
}

stop_node() {
  if [ -n "${node_pid:-}" ]; then kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "${node_dir:-}"
}
