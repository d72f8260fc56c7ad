# pgcluster.sh: throwaway PostgreSQL 15 clusters for walpipe's integration tests.
#
# Source this file from bash.  Every cluster lives in a directory under
# $WALPIPE_TEST_TMPDIR (created by pgc_init), with its own data directory,
# unix socket directory and TCP port on 127.0.0.1.  pgc_cleanup stops every
# cluster found there and removes the directory; with-clusters installs it
# as the EXIT/INT/TERM/HUP trap so nothing is left behind.
#
# PostgreSQL refuses to run as root: when the tests run as root, initdb,
# pg_ctl and postgres run as the unprivileged "postgres" user (runuser),
# which owns the temporary directory.  Clients (psql, walpipe) keep running
# as the caller and connect through the socket with trust authentication.
#
# Functions:
#   pgc_init                  create $WALPIPE_TEST_TMPDIR (idempotent)
#   pgc_create NAME [CONF...] initdb, configure, start; CONF lines go to
#                             postgresql.conf (later lines win)
#   pgc_conninfo NAME [DB]    libpq conninfo of cluster NAME
#   pgc_psql NAME DB ARGS...  psql -X -A -t -q -v ON_ERROR_STOP=1 on NAME
#   pgc_stop NAME [MODE]      pg_ctl stop (fast by default)
#   pgc_start NAME            pg_ctl start of an existing cluster
#   pgc_restart NAME [MODE]   stop and start
#   pgc_cleanup               stop every cluster, remove $WALPIPE_TEST_TMPDIR

PGC_BINDIR=${PGC_BINDIR:-/usr/lib/postgresql/15/bin}

pgc_log() {
	echo "pgcluster: $*" >&2
}

# Run a server-side command as the cluster owner.
pgc_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgc_init() {
	if [ -n "${WALPIPE_TEST_TMPDIR:-}" ] && [ -d "$WALPIPE_TEST_TMPDIR" ]; then
		return 0
	fi
	if [ ! -x "$PGC_BINDIR/initdb" ]; then
		pgc_log "no initdb in $PGC_BINDIR: install postgresql-15 (packaging/install-deps.sh)"
		return 1
	fi
	WALPIPE_TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/walpipe-test.XXXXXX")
	export WALPIPE_TEST_TMPDIR
	# The sweeper (tests/harness/sweep) removes directories whose owner is gone.
	echo $$ >"$WALPIPE_TEST_TMPDIR/owner.pid"
	chmod 755 "$WALPIPE_TEST_TMPDIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$WALPIPE_TEST_TMPDIR"
	fi
}

# A port nobody listens on; postgres will still fail cleanly if it races.
pgc_free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pgc_dir() {
	echo "$WALPIPE_TEST_TMPDIR/$1"
}

pgc_port() {
	cat "$(pgc_dir "$1")/port"
}

pgc_conninfo() {
	local dir
	dir=$(pgc_dir "$1")
	echo "host=$dir/sock port=$(pgc_port "$1") dbname=${2:-postgres} user=postgres"
}

pgc_psql() {
	local name=$1 db=$2
	shift 2
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$(pgc_conninfo "$name" "$db")" "$@"
}

pgc_start() {
	local dir try port
	dir=$(pgc_dir "$1")
	for try in 1 2 3 4 5; do
		if pgc_as_owner "$PGC_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
			-o "-p $(cat "$dir/port")" -w -t 60 start >/dev/null; then
			return 0
		fi
		# Most likely the port was taken between the probe and the bind.
		port=$(pgc_free_port) || break
		echo "$port" >"$dir/port"
	done
	pgc_log "could not start cluster \"$1\"; last lines of $dir/server.log:"
	tail -n 20 "$dir/server.log" >&2
	return 1
}

pgc_stop() {
	local dir
	dir=$(pgc_dir "$1")
	pgc_as_owner "$PGC_BINDIR/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w -t 60 stop >/dev/null
}

pgc_restart() {
	pgc_stop "$1" "${2:-fast}" && pgc_start "$1"
}

pgc_create() {
	local name=$1 dir port line
	shift
	pgc_init || return 1
	dir=$(pgc_dir "$name")
	if [ -e "$dir" ]; then
		pgc_log "cluster \"$name\" already exists in $WALPIPE_TEST_TMPDIR"
		return 1
	fi
	pgc_as_owner mkdir -p "$dir/sock"
	if ! pgc_as_owner "$PGC_BINDIR/initdb" -D "$dir/data" -U postgres -A trust \
		-E UTF8 --locale=C.UTF-8 --no-sync >"$dir.initdb.log" 2>&1; then
		pgc_log "initdb failed for cluster \"$name\":"
		cat "$dir.initdb.log" >&2
		return 1
	fi
	rm -f "$dir.initdb.log"
	port=$(pgc_free_port) || { pgc_log "no free port"; return 1; }
	echo "$port" | pgc_as_owner tee "$dir/port" >/dev/null
	{
		echo "# walpipe test cluster \"$name\""
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir/sock'"
		echo "wal_level = logical"
		echo "max_replication_slots = 20"
		echo "max_wal_senders = 20"
		echo "max_connections = 60"
		echo "shared_buffers = 128MB"
		# Throwaway data: durability against an OS crash is not needed, and
		# fsync off keeps the suite fast.  A killed postgres still recovers.
		echo "fsync = off"
		echo "full_page_writes = off"
		echo "log_min_messages = warning"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		for line in "$@"; do
			echo "$line"
		done
	} | pgc_as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
	pgc_start "$name"
}

pgc_cleanup() {
	local d pid
	[ -n "${WALPIPE_TEST_TMPDIR:-}" ] && [ -d "$WALPIPE_TEST_TMPDIR" ] || return 0
	local pids=() i
	for d in "$WALPIPE_TEST_TMPDIR"/*/data; do
		[ -f "$d/postmaster.pid" ] || continue
		pid=$(head -n 1 "$d/postmaster.pid")
		pgc_as_owner "$PGC_BINDIR/pg_ctl" -D "$d" -m immediate -w -t 30 stop \
			>/dev/null 2>&1
		[ -n "$pid" ] && pids+=("$pid")
	done
	# pg_ctl returns once postmaster.pid is gone, a moment before the
	# process itself; wait for it, and kill it if it is wedged.
	for pid in "${pids[@]}"; do
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$i" -eq 50 ] && kill -KILL "$pid" 2>/dev/null
			sleep 0.1
		done
	done
	rm -rf "$WALPIPE_TEST_TMPDIR"
	unset WALPIPE_TEST_TMPDIR
}
