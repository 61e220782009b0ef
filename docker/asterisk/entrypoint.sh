#!/bin/sh
# Start Asterisk with hotline's config: the files from docker/asterisk/ (mounted read-only
# at /etc/hotline-asterisk) over the image's defaults, the deployment's secrets and
# addresses from the environment (configure.sh says which).
set -eu
for f in /etc/hotline-asterisk/*.conf; do
  cp "$f" /etc/asterisk/
done
sh /etc/hotline-asterisk/configure.sh /etc/asterisk
mkdir -p /var/lib/asterisk/sounds/hotline /var/spool/asterisk/hotline-recordings \
         /var/spool/asterisk/hotline-voicemail /var/spool/asterisk/voicemail /var/lib/asterisk/moh
chown -R asterisk:asterisk /var/spool/asterisk /var/lib/asterisk/moh 2>/dev/null || true
exec asterisk -f -vvv -U asterisk -G asterisk
