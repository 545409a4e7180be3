#!/usr/bin/env bash
# Build reachyd and install it as a system service. Run from the repository
# root as root:
#
#   sudo deploy/install.sh              # the host kind is detected
#   sudo deploy/install.sh --wireless   # the wireless Reachy Mini (its CM4)
#   sudo deploy/install.sh --lite       # the computer a Reachy Mini Lite is plugged into
#
# REACHYD_BIN=/path/to/reachyd installs a binary built elsewhere (for example
# cross-compiled for arm64) instead of building one here.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; }

kind=auto
case "${1:-}" in
  --wireless) kind=wireless ;;
  --lite) kind=lite ;;
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo $0)" >&2
  exit 1
fi

# The wireless robot's motors are on the CM4's UART /dev/ttyAMA3; a Lite's
# come over USB (1A86:55D3, a ttyACM or ttyUSB).
if [ "$kind" = auto ]; then
  if [ -e /dev/ttyAMA3 ] || grep -qas "Compute Module 4" /proc/device-tree/model; then
    kind=wireless
  else
    kind=lite
  fi
fi
echo "installing reachyd for a ${kind} host"

# Built (or copied) first: a failed build changes nothing on the system.
newbin=$(mktemp)
trap 'rm -f "$newbin"' EXIT
if [ -n "${REACHYD_BIN:-}" ]; then
  cp "$REACHYD_BIN" "$newbin"
else
  go build -trimpath -o "$newbin" ./cmd/reachyd
fi

# The service's user, in the groups of the devices it uses (those this
# system has).
groups=()
for g in dialout video audio; do
  getent group "$g" >/dev/null && groups+=("$g")
done
joined=$(IFS=,; echo "${groups[*]}")
if ! id reachy >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/reachyd --shell /usr/sbin/nologin ${joined:+--groups "$joined"} reachy
elif [ -n "$joined" ]; then
  usermod --append --groups "$joined" reachy
fi

# The binary. The wireless robot updates itself (POST /update/start): its
# binary lives in the service's state folder, which the service may write
# (an update swaps it there and keeps the old one as reachyd.previous), and
# /usr/local/bin/reachyd links to it. On a Lite's host it is root's.
if [ "$kind" = wireless ]; then
  install -d -m 0755 -o reachy -g reachy /var/lib/reachyd /var/lib/reachyd/bin
  install -m 0755 -o reachy -g reachy "$newbin" /var/lib/reachyd/bin/reachyd
  ln -sfn /var/lib/reachyd/bin/reachyd /usr/local/bin/reachyd
else
  [ -L /usr/local/bin/reachyd ] && rm -f /usr/local/bin/reachyd
  install -m 0755 "$newbin" /usr/local/bin/reachyd
fi

install -m 0644 deploy/99-reachy-mini.rules /etc/udev/rules.d/99-reachy-mini.rules
udevadm control --reload-rules && udevadm trigger || true
install -m 0644 deploy/reachyd.tmpfiles /etc/tmpfiles.d/reachyd.conf
systemd-tmpfiles --create /etc/tmpfiles.d/reachyd.conf || true

# The host's options: written once, then the operator's.
if [ ! -e /etc/default/reachyd ]; then
  args=""
  [ "$kind" = wireless ] && args="--wireless-version"
  sed "s|@REACHYD_ARGS@|${args}|" deploy/reachyd.default >/etc/default/reachyd
  chmod 0644 /etc/default/reachyd
else
  echo "keeping /etc/default/reachyd: $(grep -E '^REACHYD_ARGS=' /etc/default/reachyd || echo 'no REACHYD_ARGS')"
fi

install -m 0644 deploy/reachyd.service /etc/systemd/system/reachyd.service
systemctl daemon-reload
systemctl enable reachyd
systemctl restart reachyd
systemctl --no-pager status reachyd || true
