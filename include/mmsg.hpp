//! Umbrella header: everything in mmsg except the asynchronous layer (<mmsg/asio.hpp>).
#ifndef MMSG_HPP
#define MMSG_HPP

#include <mmsg/backend/linux_gso.hpp>
#include <mmsg/backend/linux_mmsg.hpp>
#include <mmsg/backend/mock.hpp>
#include <mmsg/backend/mock_gso_ops.hpp>
#include <mmsg/backend/portable.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/config.hpp>
#include <mmsg/default_backend.hpp>
#include <mmsg/endpoint.hpp>
#include <mmsg/gso_capability.hpp>
#include <mmsg/gso_limits.hpp>
#include <mmsg/meta.hpp>
#include <mmsg/packet_flags.hpp>
#include <mmsg/send_result.hpp>

#endif // MMSG_HPP
