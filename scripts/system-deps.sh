#!/usr/bin/env bash
# Debian packages hotline's tests and demo need. Installs only what is missing, so a second
# run is instant; needs root (CI and these machines run as root) or sudo.
set -euo pipefail
packages=(
  make
  ffmpeg                       # pydub reads mp3/ogg prompts uploaded by admins
  espeak-ng sox                # test utterances and the placeholder prompts
  asterisk-core-sounds-en-wav  # real recorded telephony prompts (tests, demo)
  asterisk-core-sounds-en      # their transcripts (speech accuracy tests)
  sip-tester                   # SIPp: callers and agents' phones on the real Asterisk (tests/asterisk)
  chromium chromium-driver     # the web pages' tests drive a real headless browser
  openssl                      # throwaway certificates: e-mail STARTTLS, HTTPS, SIP over TLS tests
  libsrtp2-1                   # the real Asterisk's res_srtp (agents' SRTP calls, tests/asterisk)
  redis-server                 # several nodes' shared ACD: each test starts a Redis of its own (tests/cluster)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
