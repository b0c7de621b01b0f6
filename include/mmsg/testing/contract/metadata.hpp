//! The conformance kit's check of per-datagram metadata (DESIGN §7): options sent with a
//! datagram arrive with it, and what the receiver reports about it is right; or, for a
//! backend that declares it carries none (carries_metadata_v false), that every such field
//! stays at its default.
#ifndef MMSG_TESTING_CONTRACT_METADATA_HPP
#define MMSG_TESTING_CONTRACT_METADATA_HPP

#include <mmsg/testing/contract/support.hpp>
#include <mmsg/testing/datagrams.hpp>
#include <mmsg/backend_concepts.hpp>
#include <mmsg/basic_packet.hpp>
#include <mmsg/batch_receiver.hpp>
#include <mmsg/batch_sender.hpp>
#include <mmsg/ecn.hpp>
#include <mmsg/metadata.hpp>
#include <mmsg/send_options.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <tuple>
#include <vector>

namespace mmsg::testing::contract {

/*! Five datagrams with the four ECN codepoints and none, in two sizes (so that trains, where
    a backend builds them, group by options), to a receiver asked for ECN and the local
    address (and, on a kernel socket, timestamps): each arrives with its own ECN, the
    address it was sent to, and (kernel) its interface and a receive time. A backend that
    carries no metadata delivers the same bytes with every such field at its default.
*/
template <class Rig>
void options_and_metadata_make_the_round_trip(Rig& rig) {
    auto& tx = rig.open();
    auto& rx = rig.open();
    rig.ask_metadata(rx, Metadata::ecn | Metadata::local_address | Metadata::timestamp);
    const std::array<Ecn, 5> ecn{Ecn::ect0, Ecn::ect0, Ecn::ect1, Ecn::ce, Ecn::not_ect};
    std::array<SendOptions, 5> options;
    std::vector<Bytes> data;
    for (std::size_t i = 0; i < ecn.size(); ++i) {
        options[i].ecn = ecn[i];
        data.push_back(numbered(i < 2 ? 300 : 200, static_cast<std::uint32_t>(i)));
    }
    const Endpoint to = rig.local(rx);
    std::vector<std::tuple<std::span<const std::byte>, Endpoint, SendOptions>> batch;
    for (std::size_t i = 0; i < data.size(); ++i) batch.emplace_back(data[i], to, options[i]);
    auto sender = rig.sender();
    const auto before = std::chrono::system_clock::now();
    BOOST_TEST_REQUIRE(sender.batch_send(tx, batch).ok());
    const auto got = receive_n(rig, rx, data.size());
    check_received(got, data, rig.local(tx));
    for (std::size_t i = 0; i < got.size(); ++i) {
        BOOST_TEST_CONTEXT("datagram " << i) {
            const Meta& m = got[i].meta;
            if (rig.carries_metadata()) {
                BOOST_TEST((m.ecn == ecn[i]));
                BOOST_TEST((m.local == to.address()));
                if constexpr (Rig::kernel) {
                    BOOST_TEST(m.interface_index != 0u);
                    // A kernel receive time, not before the send (CLOCK_REALTIME both).
                    BOOST_TEST(m.timestamp.count() >= std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                          before.time_since_epoch()).count() - 1'000'000);
                }
            } else {
                BOOST_TEST((m.ecn == Ecn::not_ect));
                BOOST_TEST(m.local.is_unspecified());
                BOOST_TEST(m.interface_index == 0u);
                BOOST_TEST(m.timestamp.count() == 0);
            }
        }
    }
}

} // namespace mmsg::testing::contract

#endif // MMSG_TESTING_CONTRACT_METADATA_HPP
