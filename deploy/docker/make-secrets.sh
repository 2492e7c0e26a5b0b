#!/bin/sh
# Create the secret files compose.yaml mounts (deploy/docker/secrets/*), with random values:
#   api_keys      admin:KEY,trader:KEY     -> ALGOTRADE_API_KEYS_FILE in the daemon
#   db_password   PASSWORD                 -> POSTGRES_PASSWORD_FILE in the db service
#   database_url  postgresql+psycopg://algotrade:PASSWORD@db:5432/algotrade
#                                          -> ALGOTRADE__DATABASE__URL_FILE (daemon, migrate)
# Existing files are kept (delete one to regenerate it). Each file is mode 600: the daemon
# refuses a secret file readable by group or others. Compose bind-mounts the files with their
# host owner, so the two the daemon reads belong to the image's user (uid/gid 10001) when
# this runs as root; otherwise it says which chown to run.
#
# Usage: sh deploy/docker/make-secrets.sh [DIR]   (default: the secrets/ folder beside it)
set -eu

dir=${1:-$(dirname "$0")/secrets}
uid=10001
gid=10001
umask 077
mkdir -p "$dir"

random_token() {
    # 32 URL-safe characters: fit in a URL without escaping, long enough for a key.
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

write_new() {
    # write_new NAME VALUE: create $dir/NAME holding VALUE unless it exists.
    if [ -e "$dir/$1" ]; then
        echo "kept    $dir/$1"
        return
    fi
    printf '%s\n' "$2" >"$dir/$1"
    chmod 600 "$dir/$1"
    echo "created $dir/$1"
}

write_new api_keys "admin:$(random_token),trader:$(random_token)"
write_new db_password "$(random_token)"
password=$(cat "$dir/db_password")
write_new database_url "postgresql+psycopg://algotrade:${password}@db:5432/algotrade"

for name in api_keys database_url; do
    if [ "$(id -u)" = 0 ]; then
        chown "$uid:$gid" "$dir/$name"
    elif [ "$(stat -c %u "$dir/$name")" != "$uid" ]; then
        echo "note: run 'sudo chown $uid:$gid $dir/$name' (the container's user reads it)"
    fi
done
