#!/usr/bin/env bash
# Keep one process running: restart it when it exits by itself (a Celery
# worker that meets an unrecoverable broker error, for instance), with a short
# backoff. honcho (make run) stops every process when one exits, so without
# this one crash would end the whole development stack. SIGTERM/SIGINT stop
# the child and the loop.
#   scripts/supervise.sh <command> [args...]
set -u
child=0
stop() { [ "$child" != 0 ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0; }
trap stop TERM INT
delay=1
while true; do
  started=$(date +%s)
  "$@" &
  child=$!
  wait "$child"
  status=$?
  child=0
  # ran for a while: a fresh crash, restart quickly; crashing at once: back off
  if [ $(( $(date +%s) - started )) -gt 60 ]; then delay=1; else delay=$(( delay < 30 ? delay * 2 : 30 )); fi
  echo "supervise: '$1' exited with status $status; restarting in ${delay}s" >&2
  sleep "$delay" &
  wait $!
done
