// BatchReceiver<SendOnly>: a type with send() but no recv() is not a receive backend.
// Expected diagnostic: "mmsg::BatchReceiver<Backend>: Backend does not model mmsg::RecvBackend".
#include <mmsg/batch_receiver.hpp>

#include <cstddef>
#include <span>
#include <system_error>

struct SendOnly {
    mmsg::SendOutcome send(int, std::span<const mmsg::SendItem> items, std::span<std::error_code>,
                           mmsg::WaitMode) {
        return {items.size(), {}};
    }
#ifdef MMSG_COMPILE_FAIL_CONTROL
    std::size_t recv(int, std::span<const mmsg::RecvSlot>, mmsg::WaitMode, std::error_code& ec) {
        ec.clear();
        return 0;
    }
#endif
};

int main() {
    mmsg::BatchReceiver<SendOnly> receiver;
    (void)receiver;
}
