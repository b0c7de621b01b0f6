//! mmsg-perf's command line: defaults, both option forms, range checks with clear
//! messages, and the row filter.
#include "perf_options.hpp"

#define BOOST_TEST_MODULE bench_options
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace mmsg::bench;

namespace {

Options parse(std::vector<std::string_view> args) { return parse_options(args); }

// The message of the UsageError that parsing `args` throws ("" if it throws none).
std::string rejection(std::vector<std::string_view> args) {
    try {
        parse_options(args);
    } catch (const UsageError& e) {
        return e.what();
    }
    return {};
}

Row row(std::string name, std::string group, bool reference = false) {
    return Row{std::move(name), std::move(group), [](const RowContext&) { return Measurement{}; },
               reference, ""};
}

} // namespace

BOOST_AUTO_TEST_CASE(no_arguments_give_five_rounds_of_1232_byte_datagrams_and_every_row) {
    const Options o = parse({});
    BOOST_TEST(o.rounds == 5u);
    BOOST_TEST(o.sizes == std::vector<std::size_t>{1232}, boost::test_tools::per_element());
    BOOST_TEST(o.rows.empty());
    BOOST_TEST(o.json.empty());
    BOOST_TEST(!o.help);
}

BOOST_AUTO_TEST_CASE(separate_and_equals_forms_of_an_option_are_the_same) {
    BOOST_TEST(parse({"--count", "1234"}).count == 1234u);
    BOOST_TEST(parse({"--count=1234"}).count == 1234u);
    BOOST_TEST(parse({"--rounds=3", "--batch", "64"}).batch == 64u);
    BOOST_TEST(parse({"--max-time=0.5"}).max_time == 0.5);
}

BOOST_AUTO_TEST_CASE(size_list_keeps_its_order_and_drops_repeats) {
    const Options o = parse({"--size", "1232,64,1232,65507"});
    BOOST_TEST(o.sizes == (std::vector<std::size_t>{1232, 64, 65507}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(size_above_the_largest_udp_payload_is_rejected_naming_the_limit) {
    const std::string m = rejection({"--size", "64,65508"});
    BOOST_TEST(m.find("--size") != std::string::npos);
    BOOST_TEST(m.find("65508") != std::string::npos);
    BOOST_TEST(m.find("65507") != std::string::npos);
    BOOST_TEST(!rejection({"--size", "0"}).empty());
    BOOST_TEST(!rejection({"--size", "64,,1232"}).empty());
}

BOOST_AUTO_TEST_CASE(numbers_with_garbage_signs_or_out_of_range_are_rejected) {
    for (const char* bad : {"12x", "-1", "", " 5", "1e3", "0", "101"})
        BOOST_TEST(!rejection({"--rounds", bad}).empty(), "--rounds '" << bad << "' was accepted");
    BOOST_TEST(!rejection({"--batch", "1025"}).empty());
    BOOST_TEST(!rejection({"--port", "65536"}).empty());
    BOOST_TEST(!rejection({"--max-time", "nan"}).empty());
    BOOST_TEST(!rejection({"--max-time", "0"}).empty());
}

BOOST_AUTO_TEST_CASE(unknown_options_missing_values_and_addresses_are_rejected) {
    BOOST_TEST(rejection({"--bogus"}).find("unknown option '--bogus'") != std::string::npos);
    BOOST_TEST(rejection({"--count"}).find("needs a value") != std::string::npos);
    BOOST_TEST(rejection({"--list=yes"}).find("takes no value") != std::string::npos);
    BOOST_TEST(rejection({"192.0.2.1"}).find("127.0.0.1 only") != std::string::npos);
    BOOST_TEST(!rejection({"--json", "-", "--csv", "-"}).empty());
}

BOOST_AUTO_TEST_CASE(row_filter_selects_named_groups_or_matching_rows_and_always_their_reference) {
    const std::vector<Row> rows{row("sendto loop", "send", true), row("LinuxMmsgBackend", "send"),
                                row("PortableBackend", "send"),
                                row("recvmsg loop", "receive", true),
                                row("LinuxMmsgBackend", "receive")};
    BOOST_TEST(select_rows(rows, {}) == (std::vector<std::size_t>{0, 1, 2, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(select_rows(rows, {"send/linux"}) == (std::vector<std::size_t>{0, 1}),
               boost::test_tools::per_element());
    BOOST_TEST(select_rows(rows, {"linuxmmsg"}) == (std::vector<std::size_t>{0, 1, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(select_rows(rows, {"Send"}) == (std::vector<std::size_t>{0, 1, 2}),
               boost::test_tools::per_element());
    BOOST_TEST(select_rows(rows, {"receive/LinuxMmsgBackend"}) == (std::vector<std::size_t>{3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(select_rows(rows, {"receive", "portable"}) == (std::vector<std::size_t>{0, 2, 3, 4}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_name_with_a_comma_cut_by_the_list_is_one_filter_again) {
    const std::vector<Row> rows{row("headers", "library cost, gso send", true),
                                row("BatchSender", "library cost, gso send"),
                                row("decode", "library cost, gso receive", true),
                                row("BatchReceiver, whole", "library cost, gso receive"),
                                row("sendto loop", "send", true), row("LinuxMmsgBackend", "send")};
    // What --rows 'library cost, gso receive' hands over: two pieces, one group.
    BOOST_TEST(select_rows(rows, {"library cost", " gso receive"}) == (std::vector<std::size_t>{2, 3}));
    BOOST_TEST(select_rows(rows, {"BatchReceiver", " whole"}) == (std::vector<std::size_t>{2, 3}));
    BOOST_TEST(select_rows(rows, {"library cost", " gso send", "send/linuxmmsg"}) ==
               (std::vector<std::size_t>{0, 1, 4, 5}));
    // Pieces that are not one name stay apart.
    BOOST_TEST(select_rows(rows, {"BatchSender", "sendto"}) == (std::vector<std::size_t>{0, 1, 4}));
}

BOOST_AUTO_TEST_CASE(unknown_row_or_backend_is_rejected_listing_the_rows) {
    const std::vector<Row> rows{row("sendto loop", "send", true), row("LinuxMmsgBackend", "send")};
    try {
        select_rows(rows, {"IoUringBackendX"});
        BOOST_FAIL("an unknown row was accepted");
    } catch (const UsageError& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("IoUringBackendX") != std::string::npos);
        BOOST_TEST(m.find("send/LinuxMmsgBackend") != std::string::npos);
    }
}
