# CMake toolchain file: 32-bit ARM (armhf, as on most GX devices) with Debian's cross compiler
# (g++-arm-linux-gnueabihf) and a sysroot of Debian armhf packages (libnode-dev, libuv1-dev, libcrypt-dev) unpacked
# into DFMQ_ARMHF_SYSROOT. scripts/cross-armhf.sh prepares both and builds:
#
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/armhf-debian.cmake [-DDFMQ_ARMHF_SYSROOT=<dir>]
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

set(DFMQ_ARMHF_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.deps/armhf/root" CACHE PATH "Unpacked Debian armhf packages")
get_filename_component(DFMQ_ARMHF_SYSROOT "${DFMQ_ARMHF_SYSROOT}" ABSOLUTE)

# Headers and libraries come from the sysroot and the cross toolchain's own tree, programs from the build machine.
set(CMAKE_FIND_ROOT_PATH "${DFMQ_ARMHF_SYSROOT}" /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# libnode's own dependencies (ICU, OpenSSL, ...) are not in the sysroot: the linker only needs to know where to
# look for those it can find, and the device provides them at run time.
set(CMAKE_SHARED_LINKER_FLAGS_INIT
    "-Wl,-rpath-link,${DFMQ_ARMHF_SYSROOT}/usr/lib/arm-linux-gnueabihf -Wl,-rpath-link,${DFMQ_ARMHF_SYSROOT}/lib/arm-linux-gnueabihf")
