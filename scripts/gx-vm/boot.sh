#!/bin/sh
# The boot of the emulated GX device (scripts/gx-vm.sh): busybox init runs it once (/etc/inittab `sysinit`) before
# it starts svscan and the host's command agent. In the order of a Venus OS boot, as far as FlashMQ is concerned:
# kernel modules, /proc /sys /dev, /run (tmpfs), /data (the persistent disk, /dev/vda), /var/log -> /data/log,
# syslogd (/var/log/messages), /service (a RAM copy of /opt/victronenergy/service), the root made read-only,
# /data/rcS.local (as Venus's custom-rc-early.sh runs it, before any service starts), the system bus (dbus-daemon).
# Writes to the console (the serial port, captured by the host).
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
say() { echo "gx-vm: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm

# Drivers that Debian's kernel has as modules, in dependency order (made by scripts/gx-vm.sh).
kver="$(uname -r)"
while read -r module; do
    [ -n "$module" ] || continue
    insmod "/lib/modules/$kver/$module" || say "cannot load $module"
done < /etc/gx-vm/modules

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/flashmq /run/venus /run/dbus
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp

# /data: the device's persistent partition (survives reboots and firmware updates).
if mount -t ext4 -o noatime /dev/vda /data; then
    mkdir -p /data/log /data/conf /data/venus
else
    say "cannot mount /data (/dev/vda): running without persistent storage"
    mount -t tmpfs -o mode=0755 tmpfs /data
    mkdir -p /data/log /data/conf /data/venus
fi

# A syslog for the lines add-ons log (logger -t ...: install.sh, the watchdog), kept in /data like the services' logs.
syslogd -O /var/log/messages || say "cannot start syslogd"

# The control share of the host (scripts/gx-vm/agent.sh works there).
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none host /host || say "cannot mount the host's share at /host"

# The network: qemu's user networking (the host reaches MQTT and the bus through its port forwards).
hostname "$(cat /etc/hostname)"
ifconfig lo 127.0.0.1 netmask 255.0.0.0 up
if ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up && route add default gw 10.0.2.2; then
    # qemu learns the guest's hardware address from its first packet: until then the connections it forwards wait
    # for TCP's retransmissions (or fail). One ARP request to the gateway tells it.
    arping -c 1 -w 1 -I eth0 10.0.2.2 >/dev/null 2>&1 || true
else
    say "no network"
fi

# /service: a RAM copy of the image's services, so that a boot hook can add one (the root is read-only).
mount -t tmpfs -o mode=0755 tmpfs /service
cp -a /opt/victronenergy/service/. /service/

mount -o remount,ro / || say "cannot make the root read-only"

if [ -x /data/rcS.local ]; then
    touch /run/venus/custom-rc
    say "running /data/rcS.local"
    /data/rcS.local || say "/data/rcS.local exited with $?"
fi

# The system bus: the unix socket for the device's processes, TCP (forwarded to the host) for the simulator.
mkdir -p /var/run/dbus
LD_LIBRARY_PATH=/opt/gx-vm/lib dbus-daemon --config-file=/etc/dbus-1/system.conf --fork || say "dbus-daemon failed"
say "booted $(head -n 1 /opt/victronenergy/version) ($(cat /etc/venus/machine), FlashMQ $(cat /etc/gx-vm/flashmq-version)) on $(uname -m), kernel $kver"
