//! Defines mmsg::DefaultBackend: LinuxMmsgBackend on Linux, PortableBackend elsewhere.
#ifndef MMSG_DEFAULT_BACKEND_HPP
#define MMSG_DEFAULT_BACKEND_HPP

#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/config.hpp>

namespace mmsg {

#if MMSG_HAS_MMSG
using DefaultBackend = LinuxMmsgBackend;
#else
using DefaultBackend = PortableBackend;
#endif

} // namespace mmsg

#endif // MMSG_DEFAULT_BACKEND_HPP
