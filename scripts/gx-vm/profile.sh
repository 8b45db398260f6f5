# /etc/profile.d/profile.sh of the emulated GX device: what Venus's service run scripts source first.
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
