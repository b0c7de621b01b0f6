//! Test support: the typed list of real (kernel) backends that the shared backend suite
//! (test/backend/) runs every test case on: same test, every backend.
#ifndef MMSG_TEST_SUPPORT_BACKENDS_HPP
#define MMSG_TEST_SUPPORT_BACKENDS_HPP

#include <mmsg/backend/io_uring.hpp>
#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/portable.hpp>

#include <tuple>

namespace mmsg::test {

// Every real backend. A new backend joins the shared suite by being appended here (and its
// header included above); BOOST_AUTO_TEST_CASE_TEMPLATE takes the std::tuple as a type list.
using RealBackends =
    std::tuple<mmsg::LinuxMmsgBackend, mmsg::PortableBackend, mmsg::LinuxGsoBackend
#if MMSG_HAS_IO_URING
               , mmsg::IoUringBackend // where the kernel allows io_uring (it does in CI)
#endif
               >;

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_BACKENDS_HPP
