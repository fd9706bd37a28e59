#!/bin/sh
# Creates .env (next to docker-compose.yml) from deploy/env.example with a
# random password for every NATS user, readable by its owner only. It never
# overwrites an existing .env. Fill in the rest of .env afterwards.
#
#   sh deploy/init-env.sh
set -eu
cd "$(dirname "$0")/.."
if [ -e .env ]; then
	echo ".env exists: not overwritten (delete it first to start again)" >&2
	exit 1
fi
umask 077
gen() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32; }
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	NATS_*_PASSWORD=) printf '%s%s\n' "$line" "$(gen)" ;;
	*) printf '%s\n' "$line" ;;
	esac
done <deploy/env.example >.env
echo "wrote .env with random NATS passwords; now set the JumpServer, cloud and DingTalk values in it"
