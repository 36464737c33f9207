#!/bin/sh
# Nightly follow-up reminders for ketacli, safe to kill at any moment: claim the
# follow-ups due as a batch (written to a spool file, fsynced, before the claim is
# used), hand the batch to a mailer or SMS gateway command, and only then
# acknowledge it ('ketacli followup ack BATCH'), which stamps the rows notified.
#
#   reminders-*.csv       claimed, not sent yet      -> send, then ...
#   reminders-*.csv.ack   sent, not acknowledged     -> ack, then ...
#   reminders-*.csv.sent  sent and acknowledged (kept as the record of what went out)
#
# A run first finishes what an earlier run left (a failed send, a kill between any two
# steps), then claims what is new. A batch whose run died before its file was written
# is due again once its claim expires ([reminders] claim_minutes, default 60). The
# worst a kill can do is send one batch twice (killed right after the sender finished);
# it never loses one. ketacli writes the spool file itself (--output): no partial file.
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
status=0

# The batch id of a spool file: the last column of its first row (none: header only).
batch_of() {
    sed -n 2p "$1" | sed 's/.*,//'
}

acknowledge() {  # $1: a .csv.ack file
    b=$(batch_of "$1")
    if [ -n "$b" ] && ! "$KETACLI" followup ack "$b" </dev/null >/dev/null; then
        echo "send-reminders: acknowledging batch $b failed; it will be retried" >&2
        status=1
        return 0
    fi
    mv "$1" "${1%.ack}.sent"
}

send_all() {
    for f in "$SPOOL"/reminders-*.csv.ack; do
        [ -e "$f" ] || continue
        acknowledge "$f"
    done
    for f in "$SPOOL"/reminders-*.csv; do
        [ -e "$f" ] || continue
        if [ -n "$(batch_of "$f")" ] && ! sh -c "$SEND" < "$f"; then
            echo "send-reminders: sending $f failed; it will be retried" >&2
            status=1
            continue
        fi
        mv "$f" "$f.ack"
        acknowledge "$f.ack"
    done
}

# 1. Whatever an earlier run left: sent first, so nothing it claimed is claimed twice.
send_all

# 2. New reminders, claimed as one batch into a new spool file.
stamp=$(date -u +%Y%m%dT%H%M%SZ)
batch="$SPOOL/reminders-$stamp-$$.csv"
"$KETACLI" followup due --within "$WITHIN" --unnotified --claim --format csv \
    --output "$batch" </dev/null >/dev/null
send_all
exit $status
