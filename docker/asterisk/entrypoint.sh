#!/bin/sh
# Start Asterisk with hotline's config: the files from docker/asterisk/ (mounted read-only
# at /etc/hotline-asterisk) over the image's defaults, the AMI secret from the environment.
set -eu
: "${HOTLINE_AMI_SECRET:?set HOTLINE_AMI_SECRET (docker/.env)}"
for f in /etc/hotline-asterisk/*.conf; do
  cp "$f" /etc/asterisk/
done
# Secrets are written here, not kept in the repository.
sed -i "s|^secret=.*|secret=${HOTLINE_AMI_SECRET}|" /etc/asterisk/manager.conf
# Each SIP password= line follows its username= line; its value is
# HOTLINE_SIP_PASSWORD_<username> (letters, digits, . _ - only, so sed stays safe).
for user in $(sed -n 's/^username=//p' /etc/asterisk/pjsip.conf); do
  name="HOTLINE_SIP_PASSWORD_$(printf '%s' "$user" | tr -c 'A-Za-z0-9_\n' '_')"
  eval "password=\${$name:-}"
  case "$password" in
    "") echo "entrypoint: set $name in docker/.env (the SIP password of $user)" >&2; exit 1 ;;
    *[!A-Za-z0-9._-]*) echo "entrypoint: $name may hold only letters, digits, . _ -" >&2; exit 1 ;;
  esac
  sed -i "/^username=$user\$/{n;s|^password=.*|password=$password|}" /etc/asterisk/pjsip.conf
done
mkdir -p /var/lib/asterisk/sounds/hotline /var/spool/asterisk/hotline-recordings \
         /var/spool/asterisk/hotline-voicemail /var/lib/asterisk/moh
chown -R asterisk:asterisk /var/spool/asterisk /var/lib/asterisk/moh 2>/dev/null || true
exec asterisk -f -vvv -U asterisk -G asterisk
