//! mmsg-perf's results: one Result per row and size, summarised over the rounds (medians),
//! and their three renderings: the text table, JSON and CSV.
#ifndef MMSG_BENCH_PERF_REPORT_HPP
#define MMSG_BENCH_PERF_REPORT_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace mmsg::bench {

//! One row at one size, over all rounds.
struct Result {
    std::string name;
    std::string group;
    std::string reference; //!< name of the group's reference row
    std::size_t size = 0;
    std::vector<double> rates;  //!< datagrams/s, one per round that measured
    std::vector<double> ratios; //!< rate / the reference's rate in the same round
    std::vector<double> cpu_ns; //!< CPU ns per datagram of the measured thread, per round
    std::size_t datagrams = 0;  //!< over all rounds
    std::size_t syscalls = 0;   //!< over all rounds
    std::string status = "ok";  //!< ok, unavailable, error
    std::string note;           //!< why, when not ok

    double datagrams_per_s() const { return median(rates); }
    double gbit_per_s() const { return datagrams_per_s() * static_cast<double>(size) * 8 / 1e9; }
    double syscalls_per_datagram() const {
        return datagrams ? static_cast<double>(syscalls) / static_cast<double>(datagrams) : NAN;
    }
    double ratio() const { return median(ratios); }
    double cpu_ns_per_datagram() const { return median(cpu_ns); }

    //! The median, NaN for no values.
    static double median(std::vector<double> v) {
        if (v.empty()) return NAN;
        std::sort(v.begin(), v.end());
        const std::size_t m = v.size() / 2;
        return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
};

namespace detail {

inline std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

//! 1234567 -> "1,234,567"
inline std::string thousands(double v) {
    if (!std::isfinite(v)) return "-";
    std::string digits = fixed(v, 0), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

inline std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            } else
                out += c;
        }
    }
    return out + "\"";
}

inline std::string json_number(double v, int decimals) {
    return std::isfinite(v) ? fixed(v, decimals) : "null";
}

inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (const char c : s)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

} // namespace detail

//! The text table: one line per result, in the order given, with a header; a row that
//! did not measure shows "-" and why.
inline std::string format_table(const std::vector<Result>& results) {
    constexpr int columns = 9;
    using Line = std::vector<std::string>;
    std::vector<Line> lines;
    lines.push_back({"group", "row", "size", "datagrams/s", "Gbit/s", "syscalls/dgram",
                     "CPU ns/dgram", "ratio", ""});
    for (const Result& r : results) {
        const bool ok = r.status == "ok";
        lines.push_back({r.group, r.name + (r.name == r.reference ? " (ref)" : ""),
                         std::to_string(r.size), ok ? detail::thousands(r.datagrams_per_s()) : "-",
                         ok ? detail::fixed(r.gbit_per_s(), 2) : "-",
                         ok ? detail::fixed(r.syscalls_per_datagram(), 4) : "-",
                         ok ? detail::fixed(r.cpu_ns_per_datagram(), 1) : "-",
                         ok ? detail::fixed(r.ratio(), 2) : "-",
                         ok ? r.note : r.status + ": " + r.note});
    }
    std::size_t width[columns] = {};
    for (const Line& l : lines)
        for (int c = 0; c < columns; ++c)
            width[c] = std::max(width[c], l[c].size());
    std::string out;
    for (const Line& l : lines) {
        std::string s;
        for (int c = 0; c < columns; ++c) {
            const std::string pad(width[c] - l[c].size(), ' ');
            if (c) s += "  ";
            s += c < 2 || c == columns - 1 ? l[c] + pad : pad + l[c];
        }
        while (!s.empty() && s.back() == ' ')
            s.pop_back();
        out += s + "\n";
    }
    return out;
}

//! JSON: {"tool": "mmsg-perf", "results": [ one object per row and size ]}.
inline std::string format_json(const std::vector<Result>& results,
                               const std::string& settings_json) {
    std::string out =
        "{\n  \"tool\": \"mmsg-perf\",\n  \"settings\": " + settings_json + ",\n  \"results\": [";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const Result& r = results[i];
        out += i ? ",\n    {" : "\n    {";
        out += "\"name\": " + detail::json_string(r.name);
        out += ", \"group\": " + detail::json_string(r.group);
        out += ", \"size\": " + std::to_string(r.size);
        out += ", \"datagrams_per_s\": " + detail::json_number(r.datagrams_per_s(), 0);
        out += ", \"gbit_per_s\": " + detail::json_number(r.gbit_per_s(), 4);
        out += ", \"syscalls_per_datagram\": " + detail::json_number(r.syscalls_per_datagram(), 6);
        out += ", \"cpu_ns_per_datagram\": " + detail::json_number(r.cpu_ns_per_datagram(), 2);
        out += ", \"ratio\": " + detail::json_number(r.ratio(), 4);
        out += ", \"reference\": " + detail::json_string(r.reference);
        out += ", \"status\": " + detail::json_string(r.status);
        out += ", \"note\": " + detail::json_string(r.note) + "}";
    }
    return out + "\n  ]\n}\n";
}

//! CSV with a header line; empty fields for values that were not measured.
inline std::string format_csv(const std::vector<Result>& results) {
    std::string out = "name,group,size,datagrams_per_s,gbit_per_s,syscalls_per_datagram,ratio,"
                      "reference,status,note,cpu_ns_per_datagram\n";
    auto num = [](double v, int d) {
        return std::isfinite(v) ? detail::fixed(v, d) : std::string();
    };
    for (const Result& r : results)
        out += detail::csv_field(r.name) + "," + detail::csv_field(r.group) + "," +
               std::to_string(r.size) + "," + num(r.datagrams_per_s(), 0) + "," +
               num(r.gbit_per_s(), 4) + "," + num(r.syscalls_per_datagram(), 6) + "," +
               num(r.ratio(), 4) + "," + detail::csv_field(r.reference) + "," + r.status + "," +
               detail::csv_field(r.note) + "," + num(r.cpu_ns_per_datagram(), 2) + "\n";
    return out;
}

} // namespace mmsg::bench

#endif // MMSG_BENCH_PERF_REPORT_HPP
