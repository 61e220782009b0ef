#!/bin/sh
# Start Asterisk with hotline's config: the files from docker/asterisk/ (mounted read-only
# at /etc/hotline-asterisk) over the image's defaults, the AMI secret from the environment.
set -eu
: "${HOTLINE_AMI_SECRET:?set HOTLINE_AMI_SECRET (docker/.env)}"
for f in /etc/hotline-asterisk/*.conf; do
  cp "$f" /etc/asterisk/
done
# The secret is written here, not kept in the repository.
sed -i "s|^secret=.*|secret=${HOTLINE_AMI_SECRET}|" /etc/asterisk/manager.conf
mkdir -p /var/lib/asterisk/sounds/hotline /var/spool/asterisk/hotline-recordings \
         /var/spool/asterisk/hotline-voicemail /var/lib/asterisk/moh
chown -R asterisk:asterisk /var/spool/asterisk /var/lib/asterisk/moh 2>/dev/null || true
exec asterisk -f -vvv -U asterisk -G asterisk
