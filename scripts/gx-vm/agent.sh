#!/bin/sh
# The host's command agent in the emulated GX device (busybox init respawns it). The host (test/helpers/gx-vm.ts)
# drops shell scripts into the 9p share: /host/cmd/<id>.sh. Each is run as root, in the background (so a slow one
# blocks no other), with its output in /host/out/<id>.out and then its exit code in /host/out/<id>.rc (written
# last, by a rename: once it exists, the output is complete). /host/out/ready tells the host the device has booted
# (its boot id: a new one after each boot).
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
share=/host
mkdir -p "$share/cmd" "$share/out"
cat /proc/sys/kernel/random/boot_id > "$share/out/ready.tmp" && mv "$share/out/ready.tmp" "$share/out/ready"
while :; do
    for file in "$share"/cmd/*.sh; do
        [ -e "$file" ] || continue
        id="${file##*/}"
        id="${id%.sh}"
        mv "$file" "$share/cmd/$id.run" 2>/dev/null || continue
        # Twice in the background: the command's shell belongs to init then, which reaps it.
        ( (
            cd /
            sh "$share/cmd/$id.run" > "$share/out/$id.out" 2>&1 < /dev/null
            echo "$?" > "$share/out/$id.rc.tmp"
            rm -f "$share/cmd/$id.run"
            mv "$share/out/$id.rc.tmp" "$share/out/$id.rc"
        ) & )
    done
    usleep 100000
done
