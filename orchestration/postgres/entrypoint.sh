#!/bin/sh
# The entrypoint of the Dockerfile's `postgres` image (Debian's PostgreSQL), with the part of the official
# postgres image's interface that compose.yaml uses: on first start (an empty PGDATA) a cluster whose
# superuser is POSTGRES_USER, its password read from POSTGRES_PASSWORD_FILE, and a database POSTGRES_DB;
# then the server, listening on every address of the container, as the user postgres. The password is read
# as root (the secret file need not be readable by postgres) and handed to initdb through a file that is
# removed at once: it never reaches the environment, the command line or the log.
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

if [ "${1:-postgres}" != "postgres" ]; then
    exec "$@"
fi
if [ $# -gt 0 ]; then shift; fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
        echo "postgres: POSTGRES_PASSWORD_FILE must name a file holding the password (got '${POSTGRES_PASSWORD_FILE:-}')" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    cat "$POSTGRES_PASSWORD_FILE" > "$pwfile"
    chown postgres "$pwfile"
    echo "postgres: first start, making the cluster in $PGDATA (superuser $user, database $database)"
    as_postgres initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 > /dev/null
    rm -f "$pwfile"
    # the other containers of the stack reach it over the compose network, with the password
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != "postgres" ]; then
        as_postgres pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
        as_postgres createdb --username="$user" "$database"
        as_postgres pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
