//! mmsg-perf's command line: the options, their defaults and their validation, and the
//! row filter. Every error is a UsageError with a message that names the option and the
//! allowed values.
#ifndef MMSG_BENCH_PERF_OPTIONS_HPP
#define MMSG_BENCH_PERF_OPTIONS_HPP

#include "perf_rows.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mmsg::bench {

//! The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
inline constexpr std::size_t max_udp_payload = 65507;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::size_t rounds = 5;               //!< rounds; the table shows medians
    std::size_t count = 50000;            //!< datagrams per row, size and round (at most)
    double max_time = 0.15;               //!< seconds per row, size and round (at most)
    std::vector<std::size_t> sizes{1232}; //!< payload sizes in bytes
    std::size_t batch = 1024;             //!< datagrams per batch call
    std::vector<std::string> rows;        //!< row filters (empty: every row)
    std::string json;                     //!< write JSON here ("-": stdout)
    std::string csv;                      //!< write CSV here ("-": stdout)
    std::uint16_t port = 0;               //!< loopback port of the send rows' sink (0: any)
    bool help = false;
    bool list = false;
};

inline const char* usage_text() {
    return "usage: mmsg-perf [options]\n"
           "\n"
           "Measures batched UDP I/O over loopback (127.0.0.1 only; the xdp rows over a veth\n"
           "pair between two network namespaces of its own, 198.18.0.0/15 inside them):\n"
           "each row sends or receives datagrams with one method, in several rounds; the\n"
           "table shows the median datagrams/s, Gbit/s (payload), system calls per datagram,\n"
           "and the ratio to the reference row of the same group, measured in the same round.\n"
           "\n"
           "options:\n"
           "  --rounds N       rounds, median reported (1..100; default 5)\n"
           "  --count N        at most N datagrams per row, size and round\n"
           "                   (1..10000000; default 50000)\n"
           "  --max-time S     at most S seconds per row, size and round\n"
           "                   (0.001..60; default 0.15)\n"
           "  --size LIST      payload sizes in bytes, comma-separated (1..65507; default 1232),\n"
           "                   e.g. --size 64,1232\n"
           "  --batch N        datagrams per batch call (1..1024; default 1024)\n"
           "  --rows LIST      only these rows (comma-separated, case-insensitive): a group\n"
           "                   (\"send\") or \"group/name\" selects exactly that, any other word\n"
           "                   the rows whose \"group/name\" contains it (\"gso\"); each group's\n"
           "                   reference row always runs; names with a comma work as\n"
           "                   they are (\"library cost, gso receive\"). See --list.\n"
           "  --json FILE      also write the results as JSON (\"-\": stdout, table to stderr)\n"
           "  --csv FILE       also write the results as CSV (\"-\": stdout, table to stderr)\n"
           "  --port N         loopback port of the socket that send rows send to (0: any free)\n"
           "  --list           list the rows and exit\n"
           "  --help           this text\n"
           "\n"
           "JSON/CSV: one record per row and size with name, group, size, datagrams_per_s,\n"
           "gbit_per_s, syscalls_per_datagram, ratio, reference (the reference row's name),\n"
           "status (ok, unavailable, error) and note.\n";
}

namespace detail {

inline std::size_t parse_count(std::string_view opt, std::string_view v, std::size_t lo,
                               std::size_t hi) {
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || n < lo || n > hi)
        throw UsageError(std::string(opt) + ": '" + std::string(v) + "' is not a whole number in " +
                         std::to_string(lo) + ".." + std::to_string(hi));
    return n;
}

inline double parse_seconds(std::string_view opt, std::string_view v, double lo, double hi) {
    double d = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || !(d >= lo && d <= hi))
        throw UsageError(std::string(opt) + ": '" + std::string(v) +
                         "' is not a number of seconds in " + std::to_string(lo).substr(0, 5) +
                         ".." + std::to_string(static_cast<int>(hi)));
    return d;
}

inline std::vector<std::string_view> split(std::string_view v) {
    std::vector<std::string_view> out;
    for (std::size_t b = 0;;) {
        const std::size_t e = v.find(',', b);
        out.push_back(v.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
        if (e == std::string_view::npos) return out;
        b = e + 1;
    }
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

} // namespace detail

//! Parses the arguments after the program name. Accepts `--opt value` and `--opt=value`.
//! Throws UsageError on an unknown option, a missing value, or a value out of range.
inline Options parse_options(std::span<const std::string_view> args) {
    Options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::string_view value;
        bool has_value = false;
        if (const auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_value = true;
        }
        auto next = [&]() -> std::string_view {
            if (has_value) return value;
            if (i + 1 >= args.size()) throw UsageError(std::string(a) + ": needs a value");
            return args[++i];
        };
        auto flag = [&] {
            if (has_value) throw UsageError(std::string(a) + ": takes no value");
        };
        if (a == "--help" || a == "-h")
            flag(), o.help = true;
        else if (a == "--list")
            flag(), o.list = true;
        else if (a == "--rounds")
            o.rounds = detail::parse_count(a, next(), 1, 100);
        else if (a == "--count")
            o.count = detail::parse_count(a, next(), 1, 10'000'000);
        else if (a == "--max-time")
            o.max_time = detail::parse_seconds(a, next(), 0.001, 60);
        else if (a == "--batch")
            o.batch = detail::parse_count(a, next(), 1, 1024);
        else if (a == "--port")
            o.port = static_cast<std::uint16_t>(detail::parse_count(a, next(), 0, 65535));
        else if (a == "--size") {
            o.sizes.clear();
            for (std::string_view s : detail::split(next())) {
                const std::size_t n = detail::parse_count(a, s, 1, max_udp_payload);
                if (std::find(o.sizes.begin(), o.sizes.end(), n) == o.sizes.end())
                    o.sizes.push_back(n);
            }
        } else if (a == "--rows") {
            for (std::string_view s : detail::split(next())) {
                if (s.empty()) throw UsageError("--rows: empty row name in the list");
                o.rows.emplace_back(s);
            }
        } else if (a == "--json") {
            o.json = next();
            if (o.json.empty()) throw UsageError("--json: needs a file name (or - for stdout)");
        } else if (a == "--csv") {
            o.csv = next();
            if (o.csv.empty()) throw UsageError("--csv: needs a file name (or - for stdout)");
        } else if (a.starts_with("-"))
            throw UsageError("unknown option '" + std::string(a) + "' (see --help)");
        else
            throw UsageError(
                "unexpected argument '" + std::string(a) +
                "': mmsg-perf sends to 127.0.0.1 only and takes no address (see --help)");
    }
    if (o.json == "-" && o.csv == "-")
        throw UsageError("--json - and --csv -: only one can go to stdout");
    return o;
}

//! Indices of the rows to run, in registry order: the rows matching a filter, plus each
//! chosen group's reference row. A filter equal to a group or to a "group/name" (ignoring
//! case) selects exactly that; any other filter, every row whose "group/name" contains it.
//! Every filter must match some row. An empty filter list selects every row. Names with a
//! comma ("library cost, gso send") arrive cut at it (--rows splits at commas): consecutive
//! filters whose text joined again with commas occurs in a row's "group/name" are one.
inline std::vector<std::size_t> select_rows(const std::vector<Row>& rows,
                                            const std::vector<std::string>& cut) {
    std::set<std::string> groups;
    std::vector<bool> chosen(rows.size(), cut.empty());
    auto key = [&](std::size_t i) { return detail::lower(rows[i].group + "/" + rows[i].name); };
    auto occurs = [&](const std::string& text) {
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (key(i).find(detail::lower(text)) != std::string::npos) return true;
        return false;
    };
    std::vector<std::string> filters;
    for (std::size_t i = 0; i < cut.size();) {
        std::size_t end = i + 1; // the longest run cut[i, end) that was one name
        std::string joined = cut[i];
        for (std::size_t j = i + 1; j < cut.size(); ++j) {
            joined += "," + cut[j];
            if (occurs(joined)) end = j + 1;
        }
        std::string f = cut[i];
        for (std::size_t j = i + 1; j < end; ++j) f += "," + cut[j];
        filters.push_back(std::move(f));
        i = end;
    }
    for (const std::string& f : filters) {
        const std::string want = detail::lower(f);
        // A filter that names a group or a "group/name" exactly selects just that;
        // otherwise it selects every row whose "group/name" contains it.
        bool exact = false;
        for (std::size_t i = 0; i < rows.size(); ++i)
            exact = exact || key(i) == want || detail::lower(rows[i].group) == want;
        bool any = false;
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (exact ? key(i) == want || detail::lower(rows[i].group) == want
                      : key(i).find(want) != std::string::npos)
                chosen[i] = any = true;
        if (!any) {
            std::string known;
            for (const Row& r : rows)
                known += "\n  " + r.group + "/" + r.name;
            throw UsageError("--rows: no row or backend matches '" + f +
                             "'; the rows are:" + known);
        }
    }
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (chosen[i]) groups.insert(rows[i].group);
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < rows.size(); ++i)
        if (chosen[i] || (rows[i].reference && groups.count(rows[i].group))) out.push_back(i);
    return out;
}

} // namespace mmsg::bench

#endif // MMSG_BENCH_PERF_OPTIONS_HPP
