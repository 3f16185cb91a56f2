#!/bin/sh
# Run by the deb package after installing Weft: lets its capture engine open network devices
# without root (raw sockets and promiscuous mode), as Wireshark's dumpcap is set up. Remove the
# capability with `setcap -r /opt/Weft/weft` to allow capture only to root.
set -e
if command -v setcap >/dev/null 2>&1; then
  setcap cap_net_raw,cap_net_admin+eip /opt/Weft/weft || echo "weft: could not grant capture rights (setcap failed); live capture will need root" >&2
else
  echo "weft: setcap not found (package libcap2-bin); live capture will need root" >&2
fi
