// batch_send over a range whose elements are not (payload, destination) pairs.
// Expected diagnostic: the unsatisfied constraint mmsg::SendBatch.
#include <mmsg/batch_sender.hpp>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

int main() {
#ifdef MMSG_COMPILE_FAIL_CONTROL
    const std::vector<std::pair<std::span<const std::byte>, mmsg::Endpoint>> batch;
#else
    const std::vector<std::span<const std::byte>> batch; // payloads without destinations
#endif
    mmsg::BatchSender<mmsg::LinuxMmsgBackend> sender;
    (void)sender.batch_send(-1, batch);
}
