// BatchSender<int>: int is not a send backend. Expected diagnostic: "mmsg::BatchSender<Backend>:
// Backend does not model mmsg::SendBackend".
#include <mmsg/batch_sender.hpp>

#ifdef MMSG_COMPILE_FAIL_CONTROL
using Backend = mmsg::LinuxMmsgBackend;
#else
using Backend = int;
#endif

int main() {
    mmsg::BatchSender<Backend> sender;
    (void)sender;
}
