// A consumer of the installed mmsg with its io_uring component (CMake mmsg::io_uring,
// pkg-config mmsg-io-uring): it must compile and link against liburing through them.
// Exit status 0 = it linked and ran; a kernel that refuses io_uring is not a failure here.
#include <mmsg.hpp>

#include <cstdio>

#include <liburing.h>

int main() {
    io_uring ring;
    const int r = io_uring_queue_init(4, &ring, 0);
    if (r == 0) io_uring_queue_exit(&ring);
    std::printf("consumer_io_uring: liburing linked, io_uring_queue_init: %s\n",
                r == 0 ? "ok" : "refused by this kernel");
    return 0;
}
