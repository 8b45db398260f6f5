#!/bin/sh
# The shutdown of the emulated GX device: busybox init runs it (/etc/inittab `shutdown`) on reboot and poweroff,
# before it kills what is left: the services are stopped (FlashMQ saves its state), /data is synced and unmounted.
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
svc -d /service/* 2>/dev/null
i=0
while [ "$i" -lt 100 ] && svstat /service/* 2>/dev/null | grep -q ': up'; do
    usleep 100000
    i=$((i + 1))
done
svc -d /service/*/log 2>/dev/null
sync
umount /data 2>/dev/null || mount -o remount,ro /data 2>/dev/null
sync
echo "gx-vm: services stopped, /data unmounted"
