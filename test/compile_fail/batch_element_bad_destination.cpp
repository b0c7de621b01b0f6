// batch_send over a range whose elements are neither a payload alone nor (payload,
// destination): here the "destination" is a string naming a host.
// Expected diagnostic: the unsatisfied constraint mmsg::SendBatch.
#include <mmsg/batch_sender.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

int main() {
#ifdef MMSG_COMPILE_FAIL_CONTROL
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch;
#else
    const std::vector<std::pair<std::span<const std::byte>, std::string>> batch; // not a Destination
#endif
    mmsg::BatchSender<mmsg::LinuxMmsgBackend> sender;
    (void)sender.batch_send(-1, batch);
}
