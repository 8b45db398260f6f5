#!/bin/sh
# Run by Venus OS after it unpacked a venus-data*.tar.gz (from a USB stick or SD card) into /data at boot: switches
# FlashMQ to the plugin that came with it.
[ -x /data/dbus-flashmq-ts/install.sh ] && /data/dbus-flashmq-ts/install.sh --boot
