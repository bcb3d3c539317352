#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# /metrics on the REAL daemon against fakewa (docs/metrics.md): scraped before and after
# traffic with alice, a dropped link (a reconnect), an undecryptable message (a retry receipt),
# a message queued while the link is down (outbox depth), a slow exec hook (inbox delivery
# lag) and a webhook endpoint that refuses (backlog, then dead letters). Each series must
# move the way docs/metrics.md says, and the whole exposition must parse: every family has
# HELP and TYPE before its samples, histograms are cumulative and end in +Inf = _count.
# WAGATE_TEST_OUT set: the last scrape is kept there (metrics.txt).
source "$(dirname "$0")/../fault/fault-lib.sh"
source "$(dirname "$0")/../fault/repair-lib.sh"
fault_setup
P='"phone":"+15550001"'
check "a paired, connected daemon (slow exec hook, a webhook to a closed port)" fault_gateway \
  '"backoff":{"base_ms":200,"cap_ms":1000},"repair":{"retry_gap_ms":200,"retry_wait_ms":3000,"phone_delay_ms":500},
   "accounts":{"default":{"dm_policy":"open","group_policy":"open","require_mention":false}}' \
  "\"hooks\":{\"exec\":{\"command\":\"cat >/dev/null; sleep 4\",\"timeout_ms\":20000},
    \"webhook\":{\"endpoints\":[{\"url\":\"http://127.0.0.1:9/hook?token=x\",\"secret\":\"0123456789abcdef-metrics\"}],
    \"retry_base_ms\":50,\"retry_max_ms\":100,\"max_attempts\":3,\"connect_timeout_ms\":500}}"

scrape() { curl -s -m 5 -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/metrics"; }
# m NAME [EXTRA_LABELS]: this account's value of a series (empty if absent)
m() {
  local l="channel=\"whatsapp\",account=\"default\"${2:+,$2}"
  sed -n "s/^$1{$l} //p" <<<"$S"
}
mw() { sed -n "s/^$1{account=\"default\"} //p" <<<"$S"; } # the webhook series
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

# the format check: a small parser of the text exposition format 0.0.4
cat >"$T/promcheck.py" <<'PY'
import re, sys
name_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
help_, type_, errs, fams, hist = {}, {}, [], set(), {}
for n, line in enumerate(sys.stdin.read().splitlines(), 1):
    if line.startswith('# HELP '):
        name = line.split(' ', 3)[2]
        if name in help_: errs.append('%d: second HELP for %s' % (n, name))
        help_[name] = n
        continue
    if line.startswith('# TYPE '):
        _, _, name, t = line.split(' ', 3)
        if t not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
            errs.append('%d: bad type %s' % (n, t))
        if name not in help_: errs.append('%d: TYPE before HELP for %s' % (n, name))
        type_[name] = t
        fams.add(name)
        continue
    if not line or line.startswith('#'):
        continue
    mo = sample_re.match(line)
    if not mo:
        errs.append('%d: not a sample: %r' % (n, line)); continue
    name, labels, value = mo.group(1), mo.group(3) or '', mo.group(4)
    try:
        v = float(value)
    except ValueError:
        errs.append('%d: bad value %r' % (n, value)); continue
    pos, lab = 0, {}
    while pos < len(labels):
        lm = label_re.match(labels, pos)
        if not lm:
            errs.append('%d: bad labels %r' % (n, labels)); break
        lab[lm.group(1)] = lm.group(2); pos = lm.end()
    fam = name
    for suf in ('_bucket', '_sum', '_count'):
        if name.endswith(suf) and type_.get(name[:-len(suf)]) == 'histogram':
            fam = name[:-len(suf)]
    if fam not in type_:
        errs.append('%d: sample of %s without HELP/TYPE before it' % (n, fam)); continue
    if type_[fam] == 'counter' and v < 0: errs.append('%d: negative counter' % n)
    if type_[fam] == 'histogram':
        key = (fam, tuple(sorted((k, x) for k, x in lab.items() if k != 'le')))
        h = hist.setdefault(key, {'b': [], 'count': None})
        if name.endswith('_bucket'): h['b'].append((lab.get('le'), v))
        if name.endswith('_count'): h['count'] = v
for (fam, key), h in hist.items():
    vals = [v for _, v in h['b']]
    if vals != sorted(vals): errs.append('%s %s: buckets not cumulative' % (fam, key))
    if not h['b'] or h['b'][-1][0] != '+Inf': errs.append('%s: no +Inf bucket' % fam)
    elif h['b'][-1][1] != h['count']: errs.append('%s: +Inf != _count' % fam)
print('%d families, %d histograms series' % (len(fams), len(hist)))
for e in errs: print('ERROR ' + e)
sys.exit(1 if errs else 0)
PY
fmt() { python3 "$T/promcheck.py" <<<"$S" >"$T/fmt.out"; local r=$?; echo "# format: $(head -3 "$T/fmt.out")"; return $r; }

S=$(scrape)
check "the first scrape parses (HELP and TYPE for every family)" fmt
for f in wagate_channel_state wagate_channel_reconnects_total wagate_channel_reconnects_by_cause_total \
  wagate_channel_failed_attempts_total wagate_channel_messages_in_total wagate_channel_messages_out_total \
  wagate_channel_decrypt_failures_total wagate_channel_retry_receipts_total \
  wagate_channel_peer_session_resets_total wagate_channel_session_repairs_total \
  wagate_channel_outbox_depth wagate_channel_inbox_delivery_lag_seconds wagate_webhook_backlog \
  wagate_webhook_dead_letters wagate_store_commit_duration_ms; do
  grep -q "^# TYPE $f " <<<"$S" || nok "family $f is missing"
done
check "state: connected is 1, every other state 0" ok_if \
  '[ "$(m wagate_channel_state "state=\"connected\"")" = 1 ] &&
   [ "$(grep -c "^wagate_channel_state{.*} 1$" <<<"$S")" = 1 ]'
in0=$(m wagate_channel_messages_in_total)
out0=$(m wagate_channel_messages_out_total)
c0=$(m wagate_store_commit_duration_ms_count)
rec0=$(m wagate_channel_reconnects_total)
df0=$(m wagate_channel_decrypt_failures_total)
rr0=$(m wagate_channel_retry_receipts_total)
fa0=$(grep '^wagate_channel_failed_attempts_total{' <<<"$S" | awk '{s += $NF} END {print s + 0}')

# ---- traffic ----
check "traffic: 3 round trips with alice" exchange alice 3
S=$(scrape)
check "messages in +3 ($in0 -> $(m wagate_channel_messages_in_total)), out +3 ($out0 -> $(m wagate_channel_messages_out_total))" \
  ok_if '[ "$(m wagate_channel_messages_in_total)" = $((in0 + 3)) ] && [ "$(m wagate_channel_messages_out_total)" = $((out0 + 3)) ]'
check "commits counted in the histogram ($c0 -> $(m wagate_store_commit_duration_ms_count))" \
  gt "$(m wagate_store_commit_duration_ms_count)" "$c0"
check "commit latency sum > 0 ms ($(m wagate_store_commit_duration_ms_sum))" \
  gt "$(m wagate_store_commit_duration_ms_sum)" 0
check "outbox empty once alice got them ($(m wagate_channel_outbox_depth))" \
  [ "$(m wagate_channel_outbox_depth)" = 0 ]

# ---- inbox delivery lag: the hook sleeps 4 s per message ----
says alice "lag probe" >/dev/null
wait_inbox "lag probe" 10000
sleep 2.2
S=$(scrape)
lag=$(m wagate_channel_inbox_delivery_lag_seconds)
check "inbox delivery lag while the hook runs: $lag s (>= 2)" ge "$lag" 2
lagok() {
  for _ in $(seq 1 200); do
    S=$(scrape)
    [ "$(m wagate_channel_inbox_delivery_lag_seconds)" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
check "inbox delivery lag back to 0 once every message is settled" lagok

# ---- a reconnect, and a message queued meanwhile ----
fault '{"type":"refuse","duration_ms":2500}'
fault "{\"type\":\"close\",$P}"
sleep 0.3
api POST /api/v1/messages '{"to":"+15550002","text":"queued while down"}'
QID=$(jq -r .id <<<"$BODY")
S=$(scrape)
check "outbox depth 1 while the link is down (state $(chan state))" [ "$(m wagate_channel_outbox_depth)" = 1 ]
check "state: connected 0 while down" [ "$(m wagate_channel_state "state=\"connected\"")" = 0 ]
check "connected again" wait_state connected 15000
check "the queued message reaches alice" wait_peer alice "$QID" 10000
S=$(scrape)
check "reconnects +1 ($rec0 -> $(m wagate_channel_reconnects_total))" \
  [ "$(m wagate_channel_reconnects_total)" = $((rec0 + 1)) ]
BYC=$(grep '^wagate_channel_reconnects_by_cause_total{' <<<"$S")
check "reconnects by cause: one, with a cause ($(sed 's/.*cause="\([^"]*\)".*} /\1=/' <<<"$BYC" | tr '\n' ' '))" \
  ok_if '[ "$(awk "{s += \$NF} END {print s}" <<<"$BYC")" = 1 ]'
fa() { grep '^wagate_channel_failed_attempts_total{' <<<"$S" | awk '{s += $NF} END {print s + 0}'; }
check "failed attempts (by cause) counted the drop and the refusals ($fa0 -> $(fa))" ge "$(fa)" $((fa0 + 2))
check "outbox depth back to 0" [ "$(m wagate_channel_outbox_depth)" = 0 ]

# ---- a decrypt failure (recovered by a retry receipt) ----
DEV=$(chan jid | sed -n 's/^15550001:\([0-9]*\)@.*/\1/p')
fault "{\"type\":\"corrupt\",$P,\"device\":$DEV,\"count\":1}"
says alice "once corrupted" >/dev/null
check "the corrupted message is recovered" wait_inbox "once corrupted" 20000
S=$(scrape)
check "decrypt failures +1 ($df0 -> $(m wagate_channel_decrypt_failures_total))" \
  [ "$(m wagate_channel_decrypt_failures_total)" = $((df0 + 1)) ]
check "retry receipts (per-message repairs) +1 ($rr0 -> $(m wagate_channel_retry_receipts_total))" \
  [ "$(m wagate_channel_retry_receipts_total)" = $((rr0 + 1)) ]
check "nothing given up: undecryptable 0, peer resets 0, store-wide repairs 0" ok_if \
  '[ "$(m wagate_channel_undecryptable_total)" = 0 ] && [ "$(m wagate_channel_peer_session_resets_total)" = 0 ] &&
   [ "$(m wagate_channel_session_repairs_total)" = 0 ]'

# ---- webhooks: every delivery to the closed port ends as a dead letter ----
deadok() {
  for _ in $(seq 1 200); do
    S=$(scrape)
    [ "$(mw wagate_webhook_backlog)" = 0 ] && gt "$(mw wagate_webhook_dead_letters)" 0 && return 0
    sleep 0.1
  done
  return 1
}
check "webhook: backlog drained into dead letters ($(mw wagate_webhook_dead_letters))" deadok
api GET /api/v1/channels/whatsapp/default
S=$(scrape)
check "webhook: /metrics agrees with the status (dead_letter $(jq -r .webhooks.dead_letter <<<"$BODY"))" \
  [ "$(jq -r .webhooks.dead_letter <<<"$BODY")" = "$(mw wagate_webhook_dead_letters)" ]

S=$(scrape)
check "the last scrape parses too" fmt
check "no sample without its family's HELP/TYPE, no duplicate series" ok_if \
  '[ "$(grep -v "^#" <<<"$S" | sed "s/ [^ ]*$//" | sort | uniq -d | wc -l)" = 0 ]'
t0=$(now_ms)
for _ in $(seq 1 20); do scrape >/dev/null; done
echo "# 20 scrapes in $(( $(now_ms) - t0 )) ms, $(wc -c <<<"$S") bytes each"
[ -n "${WAGATE_TEST_OUT:-}" ] && mkdir -p "$WAGATE_TEST_OUT" && printf '%s\n' "$S" >"$WAGATE_TEST_OUT/metrics.txt"
check "no sanitizer report" ok_if '! grep -q "ERROR: AddressSanitizer\|LeakSanitizer\|runtime error" "$T/g/err.log"'
finish
