# Sourced by the scripts under tests/ that check a running server from outside (fuzzing,
# conformance): starts `yishi serve` on a free loopback port with the demo data loaded, in a
# scratch folder removed on exit. Sets `work` (the folder: yishi.db, mail/, server.log), `base`
# (http://127.0.0.1:PORT) and `server` (its pid). Extra environment for the server can be
# exported before calling `start_demo_server BIN`.

work=$(mktemp -d)
server=
stop_demo_server() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap stop_demo_server EXIT

# The fuzzer and the scripts write far faster than a person, and sign in with made-up
# credentials; the limits are tested elsewhere.
export YISHI_WRITES_PER_MINUTE=1000000
export YISHI_LOGIN_FAILURES_PER_ADDRESS=1000000
export YISHI_LOGIN_FAILURES_PER_ACCOUNT=1000000
export YISHI_LOG=${YISHI_LOG:-warn}

start_demo_server() {
  local bin=$1
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base=http://127.0.0.1:$port
  export YISHI_BIND=127.0.0.1:$port
  export YISHI_PUBLIC_URL=$base
  export YISHI_DATABASE_URL="sqlite://$work/yishi.db?mode=rwc"
  export YISHI_MAIL_DIR=$work/mail
  export YISHI_EVIDENCE_DIR=$work/evidence
  export YISHI_SEALING_KEY_FILE=$work/sealing.key
  YISHI_ADMIN_PASSWORD=${ADMIN_PASSWORD:-fuzz-admin-password-2026} \
    "$bin" admin create --email "${ADMIN_EMAIL:-admin@fuzz.localhost}"
  "$bin" demo >/dev/null 2>&1
  "$bin" serve 2>"$work/server.log" &
  server=$!
  for _ in $(seq 1 100); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$base/healthz" >/dev/null
}

# Fails when the server log shows a panic.
server_did_not_panic() {
  if grep -q "panicked" "$work/server.log"; then
    echo "the server panicked:" >&2
    grep -A5 panicked "$work/server.log" >&2
    return 1
  fi
}
