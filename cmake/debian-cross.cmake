# CMake toolchain file: Debian 12's cross compilers for 32-bit ARM (armhf, g++-arm-linux-gnueabihf) or 64-bit ARM
# (arm64, g++-aarch64-linux-gnu), with a sysroot of that architecture's Debian packages unpacked by
# scripts/sysroot.sh (OpenSSL, libnode, libuv, libcrypt headers and libraries). Used for FlashMQ
# (scripts/flashmq.sh) and for the plugin (scripts/cross.sh):
#
#   cmake -S <src> -B <build> -DCMAKE_TOOLCHAIN_FILE=cmake/debian-cross.cmake -DDFMQ_CROSS_ARCH=armhf|arm64 \
#         [-DDFMQ_SYSROOT=<dir>]        (default: .deps/<arch>/root)
#
# The C library, libstdc++ and libgcc are the cross compiler's own (/usr/<triplet>): the sysroot only adds what the
# compiler lacks, so it is not a --sysroot; its include and library directories are added to every compile and link.

# try_compile() projects read this file again: pass them our two settings.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DFMQ_CROSS_ARCH DFMQ_SYSROOT)

if(NOT DFMQ_CROSS_ARCH AND DEFINED ENV{DFMQ_CROSS_ARCH})
    set(DFMQ_CROSS_ARCH "$ENV{DFMQ_CROSS_ARCH}")
endif()
if(DFMQ_CROSS_ARCH STREQUAL "armhf")
    set(_dfmq_triplet arm-linux-gnueabihf)
    set(CMAKE_SYSTEM_PROCESSOR arm)
elseif(DFMQ_CROSS_ARCH STREQUAL "arm64")
    set(_dfmq_triplet aarch64-linux-gnu)
    set(CMAKE_SYSTEM_PROCESSOR aarch64)
else()
    message(FATAL_ERROR "debian-cross.cmake: set -DDFMQ_CROSS_ARCH=armhf or arm64 (got '${DFMQ_CROSS_ARCH}')")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_LIBRARY_ARCHITECTURE ${_dfmq_triplet})
set(CMAKE_C_COMPILER ${_dfmq_triplet}-gcc)
set(CMAKE_CXX_COMPILER ${_dfmq_triplet}-g++)

if(NOT DFMQ_SYSROOT)
    set(DFMQ_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.deps/${DFMQ_CROSS_ARCH}/root")
endif()
get_filename_component(DFMQ_SYSROOT "${DFMQ_SYSROOT}" ABSOLUTE)
if(NOT EXISTS "${DFMQ_SYSROOT}/usr/include")
    message(FATAL_ERROR "debian-cross.cmake: no sysroot at '${DFMQ_SYSROOT}' (run scripts/sysroot.sh --arch ${DFMQ_CROSS_ARCH})")
endif()

# find_*: headers and libraries from the sysroot and the cross compiler's tree, programs from the build machine.
set(CMAKE_FIND_ROOT_PATH "${DFMQ_SYSROOT}" /usr/${_dfmq_triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Projects that use the sysroot's headers and libraries by name, without find_* (FlashMQ: <openssl/ssl.h>,
# `ssl crypto`), need them on every command line. The multiarch include directory holds OpenSSL's configuration.h.
set(_dfmq_includes "${DFMQ_SYSROOT}/usr/include/${_dfmq_triplet}" "${DFMQ_SYSROOT}/usr/include")
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${_dfmq_includes})
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${_dfmq_includes})
# -L: libraries named in a link; -rpath-link: the libraries those need (libnode -> ICU, OpenSSL, ...), which the
# linker opens to check symbols. Debian 12 packages still put some libraries in /lib/<triplet> (no usrmerge in .debs).
set(_dfmq_link "")
foreach(_dir "${DFMQ_SYSROOT}/usr/lib/${_dfmq_triplet}" "${DFMQ_SYSROOT}/lib/${_dfmq_triplet}")
    string(APPEND _dfmq_link " -L${_dir} -Wl,-rpath-link,${_dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_dfmq_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_dfmq_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_dfmq_link}")
