//! Checks that every README.md code block marked `<!-- snippet: FILE tag=NAME -->` is,
//! line for line, the region `tag::NAME[]` .. `end::NAME[]` of FILE (common indentation
//! removed), so that the README's example is always the compiled one.
//! Arguments: the README and the example file(s), in any order.
#define BOOST_TEST_MODULE readme_snippet
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Lines = std::vector<std::string>;

Lines read_lines(const std::string& path) {
    std::ifstream in(path);
    BOOST_TEST_REQUIRE(in.good(), "cannot open " << path);
    Lines lines;
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    return lines;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Files {
    std::string readme;
    std::map<std::string, std::string> sources; // file name -> path as given
};

Files files() {
    Files f;
    auto& suite = boost::unit_test::framework::master_test_suite();
    for (int i = 1; i < suite.argc; ++i) {
        const std::string a = suite.argv[i];
        if (ends_with(a, "README.md"))
            f.readme = a;
        else
            f.sources[a.substr(a.find_last_of('/') + 1)] = a;
    }
    BOOST_TEST_REQUIRE(!f.readme.empty(), "usage: snippet_matches_example README.md FILE...");
    return f;
}

// The lines between `tag::NAME[]` and `end::NAME[]`, less their common indentation.
Lines tagged_region(const Lines& src, const std::string& tag) {
    Lines out;
    bool in = false, found = false;
    for (const std::string& l : src) {
        if (l.find("end::" + tag + "[]") != std::string::npos) {
            in = false;
            continue;
        }
        if (l.find("tag::" + tag + "[]") != std::string::npos) {
            in = found = true;
            continue;
        }
        if (in) out.push_back(l);
    }
    BOOST_TEST_REQUIRE(found, "no tag::" << tag << "[] region");
    std::size_t indent = std::string::npos;
    for (const std::string& l : out)
        if (l.find_first_not_of(' ') != std::string::npos)
            indent = std::min(indent, l.find_first_not_of(' '));
    for (std::string& l : out)
        l = l.size() >= indent ? l.substr(indent) : std::string();
    return out;
}

struct Snippet {
    std::string file, tag;
    Lines body;
};

// Every fenced block that follows a `<!-- snippet: FILE tag=NAME -->` line.
std::vector<Snippet> readme_snippets(const Lines& md) {
    std::vector<Snippet> out;
    const std::string marker = "<!-- snippet: ";
    for (std::size_t i = 0; i < md.size(); ++i) {
        if (md[i].rfind(marker, 0) != 0) continue;
        std::istringstream words(md[i].substr(marker.size()));
        Snippet s;
        std::string tag;
        words >> s.file >> tag;
        BOOST_TEST_REQUIRE(tag.rfind("tag=", 0) == 0,
                           "README line " << i + 1 << ": expected tag=NAME");
        s.tag = tag.substr(4);
        s.file = s.file.substr(s.file.find_last_of('/') + 1);
        std::size_t j = i + 1;
        BOOST_TEST_REQUIRE((j < md.size() && md[j].rfind("```", 0) == 0),
                           "README line " << j + 1
                                          << ": a ``` block must follow the snippet marker");
        for (++j; j < md.size() && md[j].rfind("```", 0) != 0; ++j)
            s.body.push_back(md[j]);
        out.push_back(s);
        i = j;
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(readme_shows_each_marked_snippet_verbatim_from_its_compiled_source) {
    const Files f = files();
    const std::vector<Snippet> snippets = readme_snippets(read_lines(f.readme));
    BOOST_TEST_REQUIRE(!snippets.empty(), "README.md has no <!-- snippet: FILE tag=NAME --> block");
    for (const Snippet& s : snippets) {
        BOOST_TEST_CONTEXT("README snippet " << s.file << " tag=" << s.tag) {
            const auto src = f.sources.find(s.file);
            BOOST_TEST_REQUIRE((src != f.sources.end()),
                               s.file << " is not an argument of this test (test/readme/Jamfile)");
            const Lines region = tagged_region(read_lines(src->second), s.tag);
            BOOST_TEST(!region.empty());
            BOOST_TEST(s.body == region, boost::test_tools::per_element());
        }
    }
}
