#!/usr/bin/env bash
# selftest.sh - run every SIPp scenario against a server, without cargo.
#
#   conformance/tools/selftest.sh                 # against the Python mock
#   SERVER=target/debug/switchboard conformance/tools/selftest.sh
#
# Starts SERVER (default: tools/mock_switchboard.py) on a free loopback
# port, runs the same flows as conformance/tests/sipp.rs and prints one
# line per flow. Traces of a failed flow stay in $OUT (printed at the end).
# Needs sipp and python3; the pcap-playing flows need root.
set -u
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SERVER="${SERVER:-$HERE/tools/mock_switchboard.py}"
OUT="$(mktemp -d /tmp/conformance-selftest.XXXXXX)"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

PORT=$(free_port)
RTP_LO=$((20000 + (RANDOM % 80) * 400))
"$SERVER" --sip-listen 127.0.0.1:$PORT --rtp-ports $RTP_LO-$((RTP_LO + 399)) \
  --data-dir "$OUT/data" --log-level info >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill -TERM $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$OUT/data/demo-credentials.json" ] && break; sleep 0.2; done
pw() { python3 -c "import json,sys;print(json.load(open('$OUT/data/demo-credentials.json'))[sys.argv[1]])" "$1"; }
P1001=$(pw 1001); P1002=$(pw 1002)

failed=0
run() { # name scenario args...
  local name=$1 sc=$2; shift 2
  local dir="$OUT/$name"; mkdir -p "$dir"
  sipp -sf "$HERE/sipp/$sc.xml" -i 127.0.0.1 -mi 127.0.0.1 -mp "$(free_port)" -nostdin \
    -timeout 30s -timeout_error -trace_err -error_file "$dir/errors.log" \
    -trace_msg -message_file "$dir/messages.log" -trace_screen -screen_file "$dir/screen.log" \
    "$@" >"$dir/stdout.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name"; else echo "FAIL $name (sipp exit $rc, see $dir)"; failed=1; fi
  return $rc
}
T=127.0.0.1:$PORT

run options          options            $T -s 1000 -m 1
run echo_udp_100     uac_echo           $T -s 1000 -m 100 -r 20 -l 100 -d 1000
run echo_tcp         uac_echo           $T -t t1 -s 1000 -m 10 -r 10 -d 500
run register_1001    register_auth      $T -s 1001 -au 1001 -ap "$P1001" -m 1
run register_wrong   register_wrong     $T -s 1001 -au 1001 -m 1
run hold             uac_hold           $T -s 1000 -m 1
run late_offer       late_offer         $T -s 1000 -m 1
run codec_488        codec_488          $T -s 1000 -m 1
run unknown_method   unknown_method     $T -s 1000 -m 1
run max_forwards     max_forwards       $T -s 1000 -m 1
run bye_unknown      bye_unknown_dialog $T -s 1000 -m 1
run unregistered     uac_480            $T -s 1002 -m 1

# phone 1001 rings, the caller cancels
PHONE=$(free_port)
run phone_register   register_auth      $T -s 1001 -au 1001 -ap "$P1001" -p $PHONE -m 1
run phone_ring       uas_ring_1001      -p $PHONE -m 1 & UAS=$!
sleep 0.5
run caller_cancel    uac_cancel         $T -s 1001 -m 1
wait $UAS || failed=1

# phone 1001 answers and echoes RTP, the caller talks and hangs up
PHONE=$(free_port)
run phone_register2  register_auth      $T -s 1001 -au 1001 -ap "$P1001" -p $PHONE -m 1
run phone_answer     uas_answer_1001    -p $PHONE -m 1 -rtp_echo & UAS=$!
sleep 0.5
run caller_bridged   uac_echo           $T -s 1001 -d 3000 -m 1
wait $UAS || failed=1

# last: it locks 1002 out
run lockout_1002     register_lockout   $T -s 1002 -au 1002 -ap "$P1002" -m 1

if [ $failed -eq 0 ]; then echo "all flows passed"; rm -rf "$OUT"; else echo "traces: $OUT"; fi
exit $failed
