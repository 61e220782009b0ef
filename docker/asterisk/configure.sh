#!/bin/sh
# Fill the deployment's values into hotline's Asterisk config in directory $1 (a copy of
# docker/asterisk/*.conf): secrets and addresses come from the environment, never from the
# repository. entrypoint.sh runs it on /etc/asterisk; the test rig (tests/asterisk/rig.py)
# runs the same script on its own copy, so what is tested is what is deployed.
#
#   HOTLINE_AMI_SECRET               the AMI password of user hotline (manager.conf)
#   HOTLINE_SIP_PASSWORD_<username>  one per username= line of pjsip.conf
#   HOTLINE_AGI                      where every call runs hotline (default agi://hotline:4573/hotline)
#   HOTLINE_TRUNK_MATCH              the carrier's signalling addresses: IPs or CIDRs, comma-separated
#                                    (identify by address: no DNS at start, nothing dropped)
#   HOTLINE_SIP_TLS_CERT             SIP (and AMI) over TLS: the certificate (PEM; default
#   HOTLINE_SIP_TLS_KEY              /etc/asterisk/keys/hotline-sip.crt) and its key (.key)
#   HOTLINE_AGENT_SRTP               required (default), optional or no: agents' calls in SRTP
#   HOTLINE_TRUNK_TLS                no (default) or yes: the trunk over TLS
#   HOTLINE_TRUNK_SRTP               no (default), optional or required: the trunk's SRTP
#   HOTLINE_SYSTEM_NAME              asterisk.conf systemname (optional): with several Asterisks
#                                    on one hotline cluster, uniqueids (name-epoch.seq) never collide
#   HOTLINE_PEERS                    the other Asterisks of a hotline cluster (optional), their
#                                    systemname=host[:port] comma-separated: a trunk peer-<name> to
#                                    each, for agents' phones registered there (needs
#                                    HOTLINE_SYSTEM_NAME and HOTLINE_PEER_SECRET)
#   HOTLINE_PEER_SECRET              the trunks' shared password (the same on every Asterisk)
set -eu
etc="$1"
: "${HOTLINE_AMI_SECRET:?set HOTLINE_AMI_SECRET (docker/.env)}"
: "${HOTLINE_TRUNK_MATCH:?set HOTLINE_TRUNK_MATCH (docker/.env): the carrier's IP addresses or CIDRs}"
agi="${HOTLINE_AGI:-agi://hotline:4573/hotline}"
safe() {  # $1 name, $2 value, $3 allowed characters: refuse anything sed could misread
  case "$2" in
    "") echo "configure: set $1 (docker/.env)" >&2; exit 1 ;;
    *[!$3]*) echo "configure: $1 may hold only [$3]" >&2; exit 1 ;;
  esac
}
safe HOTLINE_AMI_SECRET "$HOTLINE_AMI_SECRET" 'A-Za-z0-9._-'
safe HOTLINE_AGI "$agi" 'A-Za-z0-9._:/-'
safe HOTLINE_TRUNK_MATCH "$HOTLINE_TRUNK_MATCH" '0-9A-Fa-f.:/,'
cert="${HOTLINE_SIP_TLS_CERT:-/etc/asterisk/keys/hotline-sip.crt}"
key="${HOTLINE_SIP_TLS_KEY:-/etc/asterisk/keys/hotline-sip.key}"
safe HOTLINE_SIP_TLS_CERT "$cert" 'A-Za-z0-9._/-'
safe HOTLINE_SIP_TLS_KEY "$key" 'A-Za-z0-9._/-'
choice() {  # $1 name, $2 value, then the values allowed
  name="$1" value="$2"
  shift 2
  for allowed in "$@"; do [ "$value" = "$allowed" ] && return 0; done
  echo "configure: $name is one of: $*" >&2
  exit 1
}
agent_srtp="${HOTLINE_AGENT_SRTP:-required}"
trunk_tls="${HOTLINE_TRUNK_TLS:-no}"
trunk_srtp="${HOTLINE_TRUNK_SRTP:-no}"
choice HOTLINE_AGENT_SRTP "$agent_srtp" required optional no
choice HOTLINE_TRUNK_TLS "$trunk_tls" no yes
choice HOTLINE_TRUNK_SRTP "$trunk_srtp" no optional required
optimistic() { [ "$1" = optional ] && echo yes || echo no; }
sed -i "s|^cert_file=.*|cert_file=${cert}|; s|^priv_key_file=.*|priv_key_file=${key}|" "$etc/pjsip.conf"
sed -i "s|^tlscertfile=.*|tlscertfile=${cert}|; s|^tlsprivatekey=.*|tlsprivatekey=${key}|" "$etc/manager.conf"
sed -i "/^\[agent-endpoint\]/,/^\[/ s|^media_encryption_optimistic=.*|media_encryption_optimistic=$(optimistic "$agent_srtp")|" "$etc/pjsip.conf"
[ "$agent_srtp" = no ] && sed -i "/^\[agent-endpoint\]/,/^\[/ s|^media_encryption=.*|media_encryption=no|" "$etc/pjsip.conf"
encryption=sdes
[ "$trunk_srtp" = no ] && encryption=no
sed -i "/^context=from-trunk\$/,/^\[/ {
  s|^media_encryption=.*|media_encryption=${encryption}|
  s|^media_encryption_optimistic=.*|media_encryption_optimistic=$(optimistic "$trunk_srtp")|
}" "$etc/pjsip.conf"
if [ "$trunk_tls" = yes ]; then
  sed -i "s|^transport=from-environment\$|transport=transport-tls|" "$etc/pjsip.conf"
  # ";" starts a comment in Asterisk's files: the URI parameter is written "\;"
  sed -i "/^\[trunk\]\$/,/^\[/ s|^\(contact=sip:[^;]*\)\$|\1\\\\;transport=tls|" "$etc/pjsip.conf"
  sed -i "s|^\(server_uri=sip:[^;]*\)\$|\1\\\\;transport=tls|" "$etc/pjsip.conf"
else
  sed -i "s|^transport=from-environment\$|transport=transport-udp|" "$etc/pjsip.conf"
fi
if [ -n "${HOTLINE_SYSTEM_NAME:-}" ]; then
  safe HOTLINE_SYSTEM_NAME "$HOTLINE_SYSTEM_NAME" 'A-Za-z0-9_-'
  touch "$etc/asterisk.conf"
  sed -i '/^systemname *=/d' "$etc/asterisk.conf"
  grep -q '^\[options\]' "$etc/asterisk.conf" || printf '[options]\n' >> "$etc/asterisk.conf"
  sed -i "/^\[options\]/a systemname = ${HOTLINE_SYSTEM_NAME}" "$etc/asterisk.conf"
fi
sed -i "s|^secret=.*|secret=${HOTLINE_AMI_SECRET}|" "$etc/manager.conf"
sed -i "s|^HOTLINE_AGI=.*|HOTLINE_AGI=${agi}|" "$etc/extensions.conf"
sed -i "/^endpoint=trunk\$/{n;s|^match=.*|match=${HOTLINE_TRUNK_MATCH}|}" "$etc/pjsip.conf"
# Each SIP password= line follows its username= line; its value is
# HOTLINE_SIP_PASSWORD_<username> (letters, digits, . _ - only, so sed stays safe).
for user in $(sed -n 's/^username=//p' "$etc/pjsip.conf"); do
  name="HOTLINE_SIP_PASSWORD_$(printf '%s' "$user" | tr -c 'A-Za-z0-9_\n' '_')"
  eval "password=\${$name:-}"
  safe "$name" "$password" 'A-Za-z0-9._-'
  sed -i "/^username=$user\$/{n;s|^password=.*|password=$password|}" "$etc/pjsip.conf"
done
# Trunks between the Asterisks of one cluster: hotline rings an agent whose phone is
# registered on a peer as PJSIP/<agent>@peer-<peer's name>; the peer takes the call in
# [hotline-peers] (extensions.conf). Each side is known to the other by the From user
# (peer-<its own name>; endpoint_identifier_order is username first) and proves it with
# the shared secret; the caller's number travels in P-Asserted-Identity. (After the
# password loop above: this password is HOTLINE_PEER_SECRET, not one per username.)
if [ -n "${HOTLINE_PEERS:-}" ]; then
  : "${HOTLINE_SYSTEM_NAME:?HOTLINE_PEERS needs HOTLINE_SYSTEM_NAME: the peers know this Asterisk by it}"
  : "${HOTLINE_PEER_SECRET:?HOTLINE_PEERS needs HOTLINE_PEER_SECRET: the trunks' shared password}"
  safe HOTLINE_PEERS "$HOTLINE_PEERS" 'A-Za-z0-9_.:=,-'
  safe HOTLINE_PEER_SECRET "$HOTLINE_PEER_SECRET" 'A-Za-z0-9._-'
  cat >> "$etc/pjsip.conf" <<EOF

; ---- trunks to the other Asterisks of the hotline cluster (configure.sh, HOTLINE_PEERS) ----
[hotline-peers-auth]
type=auth
auth_type=userpass
username=hotline-peers
password=${HOTLINE_PEER_SECRET}
EOF
  for peer in $(printf '%s' "$HOTLINE_PEERS" | tr ',' ' '); do
    case "$peer" in
      ?*=?*) ;;
      *) echo "configure: HOTLINE_PEERS: $peer is not name=host[:port]" >&2; exit 1 ;;
    esac
    name="${peer%%=*}" address="${peer#*=}"
    safe "HOTLINE_PEERS name" "$name" 'A-Za-z0-9_-'
    safe "HOTLINE_PEERS address of $name" "$address" 'A-Za-z0-9_.:-'
    [ "$name" = "$HOTLINE_SYSTEM_NAME" ] && continue  # one list for every Asterisk
    cat >> "$etc/pjsip.conf" <<EOF

[peer-${name}]
type=endpoint
context=hotline-peers
disallow=all
allow=ulaw,alaw
dtmf_mode=rfc4733
direct_media=no
rtp_symmetric=yes
transport=transport-udp
auth=hotline-peers-auth
outbound_auth=hotline-peers-auth
from_user=peer-${HOTLINE_SYSTEM_NAME}
send_pai=yes
trust_id_inbound=yes
trust_id_outbound=yes
aors=peer-${name}

[peer-${name}]
type=aor
contact=sip:${address}
qualify_frequency=10
EOF
  done
fi
