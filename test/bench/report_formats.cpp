//! mmsg-perf's results: medians, derived columns, and the JSON / CSV / table renderings.
#include "perf_report.hpp"

#define BOOST_TEST_MODULE bench_report
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace mmsg::bench;

namespace {

Result measured(std::string name, std::size_t size, std::vector<double> rates,
                std::vector<double> ratios) {
    Result r;
    r.name = std::move(name);
    r.group = "send";
    r.reference = "sendto loop";
    r.size = size;
    r.rates = std::move(rates);
    r.ratios = std::move(ratios);
    r.datagrams = 4000;
    r.syscalls = 4;
    return r;
}

std::size_t occurrences(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
        ++n;
    return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(median_is_the_middle_value_or_the_mean_of_the_two_middle_values) {
    BOOST_TEST(Result::median({5, 1, 3}) == 3.0);
    BOOST_TEST(Result::median({4, 1, 3, 2}) == 2.5);
    BOOST_TEST(std::isnan(Result::median({})));
}

BOOST_AUTO_TEST_CASE(gbit_and_syscalls_per_datagram_follow_from_the_measurements) {
    const Result r = measured("LinuxMmsgBackend", 1000, {1e6, 3e6, 2e6}, {1.1, 1.0, 1.2});
    BOOST_TEST(r.datagrams_per_s() == 2e6);
    BOOST_TEST(r.gbit_per_s() == 16.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(r.syscalls_per_datagram() == 0.001, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(r.ratio() == 1.1);
}

BOOST_AUTO_TEST_CASE(json_has_one_record_per_row_and_size_with_every_schema_field) {
    const std::vector<Result> rs{measured("sendto loop", 64, {1e5}, {1.0}),
                                 measured("LinuxMmsgBackend", 64, {2e5}, {2.0}),
                                 measured("LinuxMmsgBackend", 1232, {1e5}, {1.5})};
    const std::string j = format_json(rs, "{}");
    for (const char* field :
         {"\"name\": ", "\"group\": ", "\"size\": ", "\"datagrams_per_s\": ", "\"gbit_per_s\": ",
          "\"syscalls_per_datagram\": ", "\"ratio\": ", "\"reference\": "})
        BOOST_TEST(occurrences(j, field) == 3u, field);
    BOOST_TEST(j.find("\"size\": 1232, \"datagrams_per_s\": 100000") != std::string::npos);
    BOOST_TEST(j.find("\"ratio\": 2.0000, \"reference\": \"sendto loop\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_escapes_strings_and_writes_null_for_what_was_not_measured) {
    Result r = measured("a \"quoted\"\\name", 64, {}, {});
    r.status = "error";
    r.note = "line\nbreak";
    const std::string j = format_json({r}, "{}");
    BOOST_TEST(j.find(R"("name": "a \"quoted\"\\name")") != std::string::npos);
    BOOST_TEST(j.find(R"("datagrams_per_s": null)") != std::string::npos);
    BOOST_TEST(j.find(R"("ratio": null)") != std::string::npos);
    BOOST_TEST(j.find(R"("note": "line\nbreak")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(csv_has_a_header_and_quotes_fields_that_hold_commas_or_quotes) {
    Result odd = measured("x, \"y\"", 64, {}, {});
    odd.status = "unavailable";
    Result timed = measured("LinuxMmsgBackend", 1232, {250000}, {1.04});
    timed.cpu_ns = {180.0, 200.0, 190.0}; // the median is written
    const std::string c = format_csv({timed, odd});
    BOOST_TEST(
        c.rfind("name,group,size,datagrams_per_s,gbit_per_s,syscalls_per_datagram,ratio,reference",
                0) == 0u);
    BOOST_TEST(
        c.find("\nLinuxMmsgBackend,send,1232,250000,2.4640,0.001000,1.0400,sendto loop,ok,,190.00\n") !=
        std::string::npos);
    BOOST_TEST(c.find("\n\"x, \"\"y\"\"\",send,64,,,0.001000,,sendto loop,unavailable,,\n") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(table_marks_the_reference_row_and_explains_rows_that_did_not_measure) {
    Result off = measured("IoUringBackend", 64, {}, {});
    off.status = "unavailable";
    off.note = "io_uring is disabled";
    const std::string t = format_table({measured("sendto loop", 64, {1e5}, {1.0}), off});
    BOOST_TEST(t.find("sendto loop (ref)") != std::string::npos);
    BOOST_TEST(t.find("100,000") != std::string::npos);
    BOOST_TEST(t.find("unavailable: io_uring is disabled") != std::string::npos);
    BOOST_TEST(occurrences(t, "\n") == 3u);
}
