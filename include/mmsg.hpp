//! Umbrella header: every production header of mmsg that needs no library beyond Boost's
//! header-only ones. Left out, each to be included on its own:
//!  - <mmsg/asio.hpp>: the asynchronous layer (Boost.Asio's reactor and completion tokens);
//!  - <mmsg/backend/io_uring.hpp>, <mmsg/backend/io_uring_gso.hpp>, <mmsg/io_uring_capability.hpp>,
//!    <mmsg/lending_receiver.hpp> (LendingReceiver, LentPacket) and
//!    <mmsg/asio/lending_receiver.hpp>: io_uring, which needs liburing (link -luring);
//!  - <mmsg/backend/xdp.hpp> and <mmsg/xdp_queue.hpp>: XdpBackend and XdpQueue, which need
//!    libxdp and libbpf (link -lxdp -lbpf), and <mmsg/xdp_options.hpp>, which goes with them;
//!  - <mmsg/testing.hpp> and <mmsg/testing/...>: test doubles (MockNetwork, MockBackend,
//!    MockGsoOps, MockSocket) and the conformance kit (which needs Boost.Test).
#ifndef MMSG_HPP
#define MMSG_HPP

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/coalesced_packet.hpp>
#include <mmsg/config.hpp>
#include <mmsg/counting.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/ecn.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/error_queue.hpp>
#include <mmsg/fallback.hpp>
#include <mmsg/fault_injecting.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/limits.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/pacing.hpp>
#include <mmsg/packet_block.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/send_batch.hpp>
#include <mmsg/send_options.hpp>
#include <mmsg/send_result.hpp>
#include <mmsg/send_train.hpp>
#include <mmsg/socket.hpp>
#include <mmsg/socket_like.hpp>
#include <mmsg/socket_options.hpp>
#include <mmsg/socket_state.hpp>

#endif // MMSG_HPP
