// A consumer of the installed mmsg with its xdp component (CMake mmsg::xdp, pkg-config
// mmsg-xdp): XdpBackend must compile and link against libxdp and libbpf through them.
// Exit status 0 = it linked and ran: it opens a queue on a device that does not exist, so
// nothing is attached anywhere and no privilege is needed.
#include <mmsg/backend/xdp.hpp>

#include <cstdio>
#include <system_error>

int main() {
    static_assert(MMSG_HAS_XDP, "the xdp component was found, so XdpBackend must be built");
    mmsg::XdpOptions o;
    o.interface = "mmsg-none0";
    mmsg::XdpBackend backend(o);
    std::error_code ec;
    const bool opened = backend.queue(ec) != nullptr;
    std::printf("consumer_xdp: libxdp and libbpf linked, a queue on %s: %s\n", o.interface.c_str(),
                ec.message().c_str());
    return !opened && ec == mmsg::XdpErrc::no_such_interface ? 0 : 1;
}
