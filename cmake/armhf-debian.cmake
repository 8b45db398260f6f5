# CMake toolchain file kept for existing build commands (README): armhf with Debian's cross compiler. It is
# cmake/debian-cross.cmake with DFMQ_CROSS_ARCH=armhf; DFMQ_ARMHF_SYSROOT is the sysroot's former name.
#
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/armhf-debian.cmake [-DDFMQ_ARMHF_SYSROOT=<dir>]
set(DFMQ_CROSS_ARCH armhf)
if(NOT DFMQ_SYSROOT AND DFMQ_ARMHF_SYSROOT)
    set(DFMQ_SYSROOT "${DFMQ_ARMHF_SYSROOT}")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DFMQ_ARMHF_SYSROOT)
include("${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake")
