// recv_mmsg into a const PacketBlock: a receive writes its packets, so it is refused.
// Expected diagnostic: the constraint "ReceiveTarget" (PacketBlockTarget: not const).
#include <mmsg/batch_receiver.hpp>
#include <mmsg/packet_block.hpp>

#include <system_error>

int main() {
    mmsg::BatchReceiver<mmsg::LinuxMmsgBackend> receiver;
#ifdef MMSG_COMPILE_FAIL_CONTROL
    mmsg::PacketBlock block(4);
#else
    const mmsg::PacketBlock block(4);
#endif
    std::error_code ec;
    (void)receiver.recv_mmsg(0, block, ec);
}
