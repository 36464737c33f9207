#!/bin/sh
# Nightly follow-up reminders for ketacli: take the follow-ups due (stamping them
# as notified only once they are safely written to a spool file), then hand every
# unsent spool file to a mailer or SMS gateway command. A night whose sending
# failed is retried the next night; a rerun never sends a reminder twice.
#
# Settings (environment):
#   KETACLI          path of the ketacli program (default: ketacli on PATH)
#   KETACLI_DB       the clinic database;  KETACLI_TZ  the clinic zone
#   REMINDER_SPOOL   folder for the CSV batches (default: /var/spool/ketacli)
#   REMINDER_SEND    command that reads one CSV batch on stdin and sends it
#   REMINDER_WITHIN  also remind of what falls due in the next N days (default 1)
set -eu
KETACLI=${KETACLI:-ketacli}
SPOOL=${REMINDER_SPOOL:-/var/spool/ketacli}
SEND=${REMINDER_SEND:-"mail -s 'Follow-up reminders' frontdesk@clinic.example"}
WITHIN=${REMINDER_WITHIN:-1}

umask 077
mkdir -p "$SPOOL"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# The process id keeps two runs within the same second from writing over each other's
# batch (an unsent one would be lost: its rows are already marked notified).
batch="$SPOOL/reminders-$stamp-$$.csv"

# 1. New reminders: rows are marked notified only if the CSV was written in full.
"$KETACLI" followup due --within "$WITHIN" --unnotified --mark-notified --format csv \
    > "$batch.partial" </dev/null
mv "$batch.partial" "$batch"

# 2. Send every batch not sent yet (header-only batches are just archived).
status=0
for f in "$SPOOL"/reminders-*.csv; do
    [ -e "$f" ] || continue
    if [ "$(wc -l < "$f")" -gt 1 ]; then
        if ! sh -c "$SEND" < "$f"; then
            echo "send-reminders: sending $f failed; it will be retried" >&2
            status=1
            continue
        fi
    fi
    mv "$f" "$f.sent"
done
exit $status
