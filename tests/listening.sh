# Sourced by the browser scripts: `start_listening PROGRAM ARGS...` starts a server that prints
# `LISTENING <port>` once ready, sets `port` to it, and stops the server when the script exits.
start_listening() {
  local log
  log=$(mktemp)
  "$@" >"$log" &
  local pid=$!
  trap "kill $pid 2>/dev/null || true; rm -f '$log'" EXIT
  for _ in $(seq 1 200); do
    grep -q '^LISTENING ' "$log" && break
    sleep 0.05
  done
  port=$(sed -n 's/^LISTENING //p' "$log")
  [ -n "$port" ] || { echo "$1 did not start" >&2; exit 1; }
}
