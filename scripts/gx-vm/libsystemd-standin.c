/* libsystemd.so.0 for the emulated GX device's image when it carries a real stock plugin (scripts/gx-vm.sh --stock):
 * Debian's libdbus-1.so.3 NEEDs libsystemd.so.0, Venus OS's libdbus is built without systemd. libdbus calls these two
 * for socket activation of a D-Bus server, which a client library never is: here no sockets are ever passed. */
int sd_listen_fds(int unset_environment)
{
    (void)unset_environment;
    return 0;
}

int sd_is_socket(int fd, int family, int type, int listening)
{
    (void)fd;
    (void)family;
    (void)type;
    (void)listening;
    return 0;
}
