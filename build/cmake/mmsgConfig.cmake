# CMake package for mmsg, the header-only C++20 library for batched UDP I/O.
#
#   find_package(mmsg CONFIG REQUIRED)                        # mmsg::mmsg
#   find_package(mmsg CONFIG REQUIRED COMPONENTS io_uring)    # also mmsg::io_uring
#   find_package(mmsg CONFIG REQUIRED COMPONENTS xdp)         # also mmsg::xdp
#   target_link_libraries(app PRIVATE mmsg::mmsg)
#
# mmsg::mmsg carries the include directory, C++20 and what the headers need: Boost
# (Boost.Asio, header-only) and the platform's threads library. mmsg::io_uring adds
# liburing, which IoUringBackend needs; it exists only where liburing is installed.
# mmsg::xdp adds libxdp and libbpf, which XdpBackend needs, where they are installed.
# The package is relocatable: paths are computed from this file's location
# (<prefix>/share/cmake/mmsg/).

include(CMakeFindDependencyMacro)
find_dependency(Boost 1.81 CONFIG)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)

get_filename_component(_mmsg_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET mmsg::mmsg)
    add_library(mmsg::mmsg INTERFACE IMPORTED)
    set_target_properties(mmsg::mmsg PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${_mmsg_prefix}/include"
        INTERFACE_COMPILE_FEATURES cxx_std_20
        INTERFACE_LINK_LIBRARIES "Boost::headers;Threads::Threads")
endif()

# Optional component: IoUringBackend needs liburing (headers and library).
set(mmsg_io_uring_FOUND FALSE)
find_path(MMSG_LIBURING_INCLUDE_DIR liburing.h)
find_library(MMSG_LIBURING_LIBRARY uring)
mark_as_advanced(MMSG_LIBURING_INCLUDE_DIR MMSG_LIBURING_LIBRARY)
if(MMSG_LIBURING_INCLUDE_DIR AND MMSG_LIBURING_LIBRARY)
    if(NOT TARGET mmsg::io_uring)
        add_library(mmsg::io_uring INTERFACE IMPORTED)
        set_target_properties(mmsg::io_uring PROPERTIES
            INTERFACE_INCLUDE_DIRECTORIES "${MMSG_LIBURING_INCLUDE_DIR}"
            INTERFACE_LINK_LIBRARIES "mmsg::mmsg;${MMSG_LIBURING_LIBRARY}")
    endif()
    set(mmsg_io_uring_FOUND TRUE)
endif()

# Optional component: XdpBackend needs libxdp and libbpf (headers and libraries).
set(mmsg_xdp_FOUND FALSE)
find_path(MMSG_LIBXDP_INCLUDE_DIR xdp/xsk.h)
find_path(MMSG_LIBBPF_INCLUDE_DIR bpf/libbpf.h)
find_library(MMSG_LIBXDP_LIBRARY xdp)
find_library(MMSG_LIBBPF_LIBRARY bpf)
mark_as_advanced(MMSG_LIBXDP_INCLUDE_DIR MMSG_LIBBPF_INCLUDE_DIR MMSG_LIBXDP_LIBRARY MMSG_LIBBPF_LIBRARY)
if(MMSG_LIBXDP_INCLUDE_DIR AND MMSG_LIBBPF_INCLUDE_DIR AND MMSG_LIBXDP_LIBRARY AND MMSG_LIBBPF_LIBRARY)
    if(NOT TARGET mmsg::xdp)
        add_library(mmsg::xdp INTERFACE IMPORTED)
        set_target_properties(mmsg::xdp PROPERTIES
            INTERFACE_INCLUDE_DIRECTORIES "${MMSG_LIBXDP_INCLUDE_DIR};${MMSG_LIBBPF_INCLUDE_DIR}"
            INTERFACE_LINK_LIBRARIES "mmsg::mmsg;${MMSG_LIBXDP_LIBRARY};${MMSG_LIBBPF_LIBRARY}")
    endif()
    set(mmsg_xdp_FOUND TRUE)
endif()

unset(_mmsg_prefix)
foreach(_mmsg_comp IN LISTS mmsg_FIND_COMPONENTS)
    if(NOT mmsg_${_mmsg_comp}_FOUND AND mmsg_FIND_REQUIRED_${_mmsg_comp})
        set(mmsg_FOUND FALSE)
        set(mmsg_NOT_FOUND_MESSAGE "mmsg: component ${_mmsg_comp} is not available"
            " (io_uring needs liburing: Debian package liburing-dev;"
            " xdp needs libxdp and libbpf: libxdp-dev, libbpf-dev)")
    endif()
endforeach()
unset(_mmsg_comp)
