#!/bin/sh
# Start Asterisk with hotline's config: the files from docker/asterisk/ (mounted read-only
# at /etc/hotline-asterisk) over the image's defaults, the deployment's secrets and
# addresses from the environment (configure.sh says which).
set -eu
for f in /etc/hotline-asterisk/*.conf; do
  cp "$f" /etc/asterisk/
done
sh /etc/hotline-asterisk/configure.sh /etc/asterisk
# SIP over TLS needs a certificate: without one given (HOTLINE_SIP_TLS_CERT/_KEY), a
# self-signed pair is made once in the keys volume (phones must be told to trust it).
cert="${HOTLINE_SIP_TLS_CERT:-/etc/asterisk/keys/hotline-sip.crt}"
key="${HOTLINE_SIP_TLS_KEY:-/etc/asterisk/keys/hotline-sip.key}"
if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
  if ! command -v openssl >/dev/null; then
    echo "entrypoint: $cert or $key is missing: give HOTLINE_SIP_TLS_CERT/_KEY" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
  (umask 077 && openssl req -x509 -newkey rsa:3072 -nodes -days 825 \
    -subj "/CN=${HOTLINE_SIP_TLS_NAME:-hotline-asterisk}" -keyout "$key" -out "$cert")
  echo "entrypoint: made a self-signed SIP certificate $cert: use your own for phones" >&2
fi
chown asterisk:asterisk "$key" 2>/dev/null || true
mkdir -p /var/lib/asterisk/sounds/hotline /var/spool/asterisk/hotline-recordings \
         /var/spool/asterisk/hotline-voicemail /var/spool/asterisk/voicemail /var/lib/asterisk/moh
chown -R asterisk:asterisk /var/spool/asterisk /var/lib/asterisk/moh 2>/dev/null || true
exec asterisk -f -vvv -U asterisk -G asterisk
