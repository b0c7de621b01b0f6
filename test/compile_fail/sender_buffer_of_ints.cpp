// BatchSender<Backend, std::vector<int>>: a payload must be a range of one-byte elements.
// Expected diagnostic: "Buffer must be a contiguous, sized range of one-byte elements".
#include <mmsg/batch_sender.hpp>

#include <cstdint>
#include <vector>

#ifdef MMSG_COMPILE_FAIL_CONTROL
using Buffer = std::vector<std::uint8_t>;
#else
using Buffer = std::vector<int>;
#endif

int main() {
    mmsg::BatchSender<mmsg::LinuxMmsgBackend, Buffer> sender;
    (void)sender;
}
