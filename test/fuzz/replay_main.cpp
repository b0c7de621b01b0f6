// A main() for the fuzz targets without libFuzzer: runs every file named on the command
// line (the seed corpus, or a crash file) once, then a fixed number of pseudo-random inputs.
// This is how `b2 test` keeps the targets compiling and their seeds passing with any
// compiler; the real fuzzing is test/fuzz/build.sh + build/ci.d/20-fuzz.sh (clang, libFuzzer).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    std::size_t files = 0;
    for (int i = 1; i < argc; ++i) {
        std::ifstream f(argv[i], std::ios::binary);
        if (!f) continue; // b2 may pass other arguments
        const std::vector<char> bytes{std::istreambuf_iterator<char>(f), {}};
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        ++files;
    }
    std::mt19937 rng(12345);
    std::vector<std::uint8_t> input;
    constexpr int random_inputs = 3000;
    for (int k = 0; k < random_inputs; ++k) {
        input.resize(rng() % 512);
        for (auto& b : input) b = static_cast<std::uint8_t>(rng());
        LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::printf("replayed %zu corpus files and %d random inputs: no check failed\n", files,
                random_inputs);
    return 0;
}
