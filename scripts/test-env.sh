#!/usr/bin/env bash
# Prepares this machine for latchkey's tests; `npm test` runs it first, and so does .ci/run.
#
# The tests need Chromium (browser tests), nginx (gateway tests), curl, jq and python3 (the
# integrator examples run as written), a PostgreSQL that trusts the `postgres` user with a `test`
# database, a Redis without a password, and psql to make the database.
# What is there already is left alone: a machine that has everything running never reaches apt.
# As root on Debian, what is missing is installed with apt-get and PostgreSQL and Redis are started
# when nothing answers. Anywhere else (not root, no apt-get) it stops at once, printing one line per
# missing piece with the way to get it, and exits 1 (README, "Running the tests").
#
# Honoured, as the tests honour them: CHROMIUM_PATH (default /usr/bin/chromium), NGINX_PATH
# (default /usr/sbin/nginx), TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
# TEST_REDIS_URL (default redis://127.0.0.1:6379). A server on another machine is only checked.
set -uo pipefail

chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
nginx=${NGINX_PATH:-/usr/sbin/nginx}
pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
redis_url=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

say() { printf 'test-env: %s\n' "$*" >&2; }

# host and port of a URL: "scheme://[user[:password]@]host[:port][/path]"
url_host() {
  local rest=${1#*://}
  rest=${rest%%/*}
  rest=${rest##*@}
  if [[ $rest == \[* ]]; then rest=${rest#[}; printf '%s' "${rest%%]*}"; else printf '%s' "${rest%%:*}"; fi
}
url_port() {
  local rest=${1#*://}
  rest=${rest%%/*}
  rest=${rest##*@}
  rest=${rest##*]}
  if [[ $rest == *:* ]]; then printf '%s' "${rest##*:}"; else printf '%s' "$2"; fi
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

pg_host=$(url_host "$pg_url")
pg_port=$(url_port "$pg_url" 5432)
pg_db=${pg_url#*://}
if [[ $pg_db == */* ]]; then pg_db=${pg_db#*/}; pg_db=${pg_db%%\?*}; else pg_db=""; fi
redis_host=$(url_host "$redis_url")
redis_port=$(url_port "$redis_url" 6379)

uid=$(id -u)
sudo=""
[[ $uid == 0 ]] || sudo="sudo "
can_apt=false
[[ $uid == 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null && can_apt=true

# Whether something accepts connections at host:port (bash's /dev/tcp: no tool needed).
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
# Whether a Redis without a password answers PING at host:port.
redis_answers() {
  (
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || exit 1
    [[ $reply == +PONG* ]]
  ) 2>/dev/null
}
psql_test() { PGCONNECT_TIMEOUT=5 psql "$pg_url" -XtAqc "select 1" >/dev/null 2>&1; }
pg_admin() { PGCONNECT_TIMEOUT=5 psql -X -h "$pg_host" -p "$pg_port" -U postgres -d postgres -tAq "$@"; }
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

packages=() # what apt-get would install
lines=()    # one per missing piece: what it is and how to get it
fatal=0     # pieces apt-get cannot bring

missing() { # missing PACKAGES LINE: apt-get can bring it
  packages+=($1)
  lines+=("$2")
}
unfixable() {
  lines+=("$1")
  fatal=1
}

scan() {
  packages=() lines=() fatal=0
  if [[ ! -x $chromium ]]; then
    if [[ -n ${CHROMIUM_PATH:-} ]]; then
      unfixable "chromium: CHROMIUM_PATH=$chromium is not an executable; point it at Chromium or unset it (browser tests)"
    else
      missing "chromium fonts-dejavu-core" "chromium: not found at $chromium; install it with \`${sudo}apt-get install -y chromium fonts-dejavu-core\` (browser tests), or set CHROMIUM_PATH"
    fi
  elif [[ ! -f $font ]]; then
    missing fonts-dejavu-core "fonts-dejavu-core: not found; install it with \`${sudo}apt-get install -y fonts-dejavu-core\` (browser tests render text with it)"
  fi
  if [[ ! -x $nginx ]]; then
    if [[ -n ${NGINX_PATH:-} ]]; then
      unfixable "nginx: NGINX_PATH=$nginx is not an executable; point it at nginx or unset it (gateway tests)"
    else
      missing nginx "nginx: not found at $nginx; install it with \`${sudo}apt-get install -y nginx\` (gateway tests), or set NGINX_PATH"
    fi
  fi
  local tool
  for tool in curl jq python3; do
    command -v "$tool" >/dev/null ||
      missing "$tool" "$tool: not found; install it with \`${sudo}apt-get install -y $tool\` (the integrator examples in docs/integrators.md run with it)"
  done
  if ! command -v psql >/dev/null; then
    missing postgresql-client "psql: not found; install it with \`${sudo}apt-get install -y postgresql-client\` (makes the test database)"
  fi
  if ! listening "$pg_host" "$pg_port"; then
    if ! is_local "$pg_host"; then
      unfixable "PostgreSQL: nothing answers at $pg_host:$pg_port (TEST_DATABASE_URL); start it, or point TEST_DATABASE_URL at a server that runs"
    elif ! command -v pg_ctlcluster >/dev/null || [[ -z $(pg_version) ]]; then
      missing postgresql "PostgreSQL: nothing answers at $pg_host:$pg_port and it is not installed; install it with \`${sudo}apt-get install -y postgresql\` (store and end-to-end tests), or set TEST_DATABASE_URL"
    elif [[ $uid != 0 ]]; then
      unfixable "PostgreSQL: nothing answers at $pg_host:$pg_port; start it with \`sudo pg_ctlcluster $(pg_version) main start\` (store and end-to-end tests)"
    fi
  fi
  if ! redis_answers "$redis_host" "$redis_port"; then
    if listening "$redis_host" "$redis_port"; then
      unfixable "Redis: $redis_host:$redis_port accepts connections but does not answer PING without a password; the tests need a Redis without one there"
    elif ! is_local "$redis_host"; then
      unfixable "Redis: nothing answers at $redis_host:$redis_port (TEST_REDIS_URL); start it, or point TEST_REDIS_URL at a server that runs"
    elif ! command -v redis-server >/dev/null; then
      missing redis-server "Redis: nothing answers at $redis_host:$redis_port and redis-server is not installed; install it with \`${sudo}apt-get install -y redis-server\` (rate-limit and multi-instance tests)"
    elif [[ $uid != 0 ]]; then
      unfixable "Redis: nothing answers at $redis_host:$redis_port; start it with \`redis-server --daemonize yes --port $redis_port --save '' --appendonly no\` (rate-limit and multi-instance tests)"
    fi
  fi
}

report() {
  local line why="no apt-get"
  [[ -f /etc/debian_version ]] || why="not Debian"
  [[ $uid == 0 ]] || why="not root"
  for line in "${lines[@]}"; do printf '%s\n' "$line" >&2; done
  if [[ $tried_apt == true ]]; then
    say "${#lines[@]} still missing after apt-get (see README, Running the tests)"
  elif ((${#packages[@]} > 0)) && [[ $can_apt != true ]]; then
    say "${#lines[@]} missing, nothing installed ($why) (see README, Running the tests)"
  elif ((${#packages[@]} > 0)); then
    say "${#lines[@]} missing, nothing installed while some cannot come from apt-get (see README, Running the tests)"
  else
    say "${#lines[@]} missing (see README, Running the tests)"
  fi
  exit 1
}

tried_apt=false
scan
if ((${#packages[@]} > 0 && fatal == 0)) && [[ $can_apt == true ]]; then
  export DEBIAN_FRONTEND=noninteractive
  say "installing with apt-get: ${packages[*]}"
  apt-get update -q >/dev/null || { say "apt-get update failed"; exit 1; }
  apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null || {
    say "apt-get install failed"
    exit 1
  }
  tried_apt=true
  scan
fi
if ((${#lines[@]} > 0)); then report; fi

# From here on everything is installed, and a server that does not answer is local and ours to start.
if ! listening "$pg_host" "$pg_port"; then
  version=$(pg_version)
  say "starting PostgreSQL $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || exit 1
  for ((i = 0; i < 60; i++)); do listening "$pg_host" "$pg_port" && break; sleep 1; done
fi
if ! psql_test; then
  if ! is_local "$pg_host" || [[ -z $pg_db ]]; then
    say "PostgreSQL: cannot connect with TEST_DATABASE_URL to $pg_host:$pg_port${pg_db:+/$pg_db}"
    exit 1
  fi
  exists=$(pg_admin -c "select 1 from pg_database where datname = '$pg_db'" 2>&1) || {
    say "PostgreSQL: cannot connect as postgres to $pg_host:$pg_port: ${exists%%$'\n'*}"
    exit 1
  }
  if [[ $exists != 1 ]]; then
    say "creating database $pg_db"
    pg_admin -c "create database \"$pg_db\"" >/dev/null || exit 1
  fi
  psql_test || { say "PostgreSQL: cannot connect with $pg_host:$pg_port/$pg_db"; exit 1; }
fi
# pg_trgm (key search, migration 0023) in public, once: a test schema's migration then uses it,
# instead of creating it inside a schema whose drop would take every other schema's indexes with it.
PGCONNECT_TIMEOUT=5 psql "$pg_url" -XtAqc "create extension if not exists pg_trgm schema public" >/dev/null 2>&1 ||
  { say "PostgreSQL: cannot create the extension pg_trgm in $pg_db (install PostgreSQL's contrib modules)"; exit 1; }

if ! redis_answers "$redis_host" "$redis_port"; then
  say "starting Redis on port $redis_port"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || exit 1
  for ((i = 0; i < 20; i++)); do redis_answers "$redis_host" "$redis_port" && break; sleep 0.5; done
  redis_answers "$redis_host" "$redis_port" || { say "Redis does not answer after starting"; exit 1; }
fi
