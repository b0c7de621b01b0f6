//! mmsg-perf: the project's benchmark and demo. Sends and receives datagrams over loopback
//! (127.0.0.1 only; the XDP rows over a veth pair between two network namespaces of the
//! process's own) with each registered row (bench/rows_*.hpp), in interleaved rounds,
//! and prints the median datagrams/s, Gbit/s, system calls per datagram and the ratio to
//! each group's reference row. Every measurement is bounded in count and time.
#include "bench_support.hpp"
#include "perf_options.hpp"
#include "perf_report.hpp"
#include "perf_rows.hpp"

// Row groups: one line each, in table order.
#include "rows_mmsg.hpp"
#include "rows_async.hpp"
#include "rows_scaling.hpp"
#include "rows_gso.hpp"
#include "rows_sockets.hpp"
#include "rows_metadata.hpp"
#include "rows_transport.hpp"
#include "rows_uring.hpp"
#include "rows_xdp.hpp"
#include "rows_peers.hpp"
#include "rows_library.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

using namespace mmsg::bench;

// The progress line: stderr, only when stderr is a terminal.
class Progress {
public:
    Progress() : on_(::isatty(STDERR_FILENO) == 1) {}
    void show(const std::string& s) {
        if (on_) std::fprintf(stderr, "\r\033[K%s", s.c_str()), std::fflush(stderr);
    }
    ~Progress() {
        if (on_) std::fprintf(stderr, "\r\033[K"), std::fflush(stderr);
    }

private:
    bool on_;
};

bool write_file(const std::string& path, const std::string& text) {
    if (path == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return true;
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) std::fprintf(stderr, "mmsg-perf: cannot write %s\n", path.c_str());
    return static_cast<bool>(f);
}

std::string settings_json(const Options& o) {
    std::string sizes;
    for (std::size_t s : o.sizes)
        sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
    return "{\"rounds\": " + std::to_string(o.rounds) + ", \"count\": " + std::to_string(o.count) +
           ", \"max_time_s\": " + std::to_string(o.max_time) +
           ", \"batch\": " + std::to_string(o.batch) + ", \"sizes\": [" + sizes + "]}";
}

int run(const Options& o) {
    const std::vector<Row>& rows = registry();
    const std::vector<std::size_t> chosen = select_rows(rows, o.rows);

    // The send rows' destination: bound, never read; the kernel drops what does not fit.
    LoopbackSocket sink(o.port);
    sink.set_rcvbuf(1 << 20);
#if MMSG_HAS_UDP_GSO
    // UDP_GRO on the sink: a UDP_SEGMENT train then arrives (and is dropped) whole instead of
    // being cut into datagrams in the sender's system call, so send rows measure the sender.
    const int gro = 1;
    ::setsockopt(sink.fd(), SOL_UDP, UDP_GRO, &gro, sizeof gro);
#endif

    std::map<std::string, std::size_t> reference_of; // group -> row index
    for (std::size_t i : chosen)
        if (rows[i].reference) reference_of.emplace(rows[i].group, i);

    // results[size index][position in chosen]
    std::vector<std::vector<Result>> results(o.sizes.size());
    for (std::size_t s = 0; s < o.sizes.size(); ++s)
        for (std::size_t i : chosen) {
            Result r;
            r.name = rows[i].name;
            r.group = rows[i].group;
            r.size = o.sizes[s];
            const auto ref = reference_of.find(rows[i].group);
            r.reference = ref == reference_of.end() ? std::string() : rows[ref->second].name;
            if (r.reference.empty()) r.note = "no reference row in group " + r.group;
            results[s].push_back(r);
        }

    Progress progress;
    const auto max_time = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(o.max_time));
    // One short untimed pass first: sockets, page faults and caches warm up before round 1,
    // so the first row measured is not penalised.
    for (std::size_t size : o.sizes)
        for (std::size_t i : chosen) {
            progress.show("warm-up  size " + std::to_string(size) + "  " + rows[i].group + "/" +
                          rows[i].name);
            try {
                rows[i].function(RowContext{size, std::min<std::size_t>(o.count, 2000),
                                            max_time / 10, o.batch, sink.local()});
            } catch (const std::exception&) {
                // reported by the measured rounds
            }
        }
    for (std::size_t round = 0; round < o.rounds; ++round) {
        for (std::size_t s = 0; s < o.sizes.size(); ++s) {
            const RowContext ctx{o.sizes[s], o.count, max_time, o.batch, sink.local()};
            // Interleaved: every row once per round, so drift hits all rows alike.
            std::vector<double> rate(chosen.size(), 0);
            for (std::size_t k = 0; k < chosen.size(); ++k) {
                const Row& row = rows[chosen[k]];
                Result& r = results[s][k];
                if (r.status != "ok") continue;
                progress.show("round " + std::to_string(round + 1) + "/" +
                              std::to_string(o.rounds) + "  size " + std::to_string(ctx.size) +
                              "  " + row.group + "/" + row.name);
                Measurement m;
                try {
                    m = row.function(ctx);
                } catch (const std::exception& e) {
                    m.error = e.what();
                }
                if (!m.unavailable.empty()) {
                    r.status = "unavailable";
                    r.note = m.unavailable;
                } else if (!m.error.empty()) {
                    r.status = "error";
                    r.note = m.error;
                } else if (m.datagrams == 0 || m.seconds <= 0) {
                    r.status = "error";
                    r.note = "moved no datagram";
                } else {
                    rate[k] = static_cast<double>(m.datagrams) / m.seconds;
                    r.rates.push_back(rate[k]);
                    if (m.cpu_seconds > 0)
                        r.cpu_ns.push_back(m.cpu_seconds * 1e9 / static_cast<double>(m.datagrams));
                    r.datagrams += m.datagrams;
                    r.syscalls += m.syscalls;
                }
            }
            for (std::size_t k = 0; k < chosen.size(); ++k) {
                const auto ref = reference_of.find(rows[chosen[k]].group);
                if (ref == reference_of.end() || rate[k] == 0) continue;
                const std::size_t rk = static_cast<std::size_t>(
                    std::find(chosen.begin(), chosen.end(), ref->second) - chosen.begin());
                if (rate[rk] > 0) results[s][k].ratios.push_back(rate[k] / rate[rk]);
            }
        }
    }

    // Table order: by group (first appearance), then size, then row.
    std::vector<Result> flat;
    std::vector<std::string> groups;
    for (std::size_t i : chosen)
        if (std::find(groups.begin(), groups.end(), rows[i].group) == groups.end())
            groups.push_back(rows[i].group);
    for (const std::string& g : groups)
        for (auto& per_size : results)
            for (Result& r : per_size)
                if (r.group == g) flat.push_back(r);

    const bool table_to_stderr = o.json == "-" || o.csv == "-";
    std::FILE* table_out = table_to_stderr ? stderr : stdout;
    std::fprintf(
        table_out,
        "mmsg-perf: loopback 127.0.0.1, median of %zu rounds, each row at most %zu datagrams "
        "or %.3g s per round, batches of %zu\n\n%s",
        o.rounds, o.count, o.max_time, o.batch, format_table(flat).c_str());
    std::fprintf(table_out, "\nratio: datagrams/s relative to the group's (ref) row, same round; "
                            "syscalls/dgram: system calls per datagram moved; CPU ns/dgram: CPU "
                            "time of the measured thread (pinned to CPU 0, helpers to CPU 1) per "
                            "datagram.\n");
    std::fflush(table_out);

    bool ok = true;
    if (!o.json.empty()) ok = write_file(o.json, format_json(flat, settings_json(o))) && ok;
    if (!o.csv.empty()) ok = write_file(o.csv, format_csv(flat)) && ok;
    for (const Result& r : flat)
        if (r.status == "error") ok = false;
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    Options o;
    try {
        o = parse_options(args);
        if (o.help) {
            std::fputs(usage_text(), stdout);
            return 0;
        }
        if (o.list) {
            int gw = 0, nw = 0;
            for (const Row& r : registry()) {
                gw = std::max(gw, static_cast<int>(r.group.size()));
                nw = std::max(nw, static_cast<int>(r.name.size()));
            }
            for (const Row& r : registry())
                std::printf("%-*s  %-*s  %s%s\n", gw, r.group.c_str(), nw, r.name.c_str(),
                            r.reference ? "(reference) " : "", r.description.c_str());
            return 0;
        }
        return run(o);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "mmsg-perf: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mmsg-perf: %s\n", e.what());
        return 1;
    }
}
