# Every dependency is a Debian 12 package; scripts/setup.sh installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(yaml-cpp REQUIRED)
find_package(TBB REQUIRED)
find_package(hwy REQUIRED)
# Highway 1.0.3 compiles AVX3_DL (AVX-512 with VNNI/VBMI2/VAES/GFNI..., Ice Lake and later) only
# when asked; every translation unit using Highway sees the same set of targets (the SIMD tests,
# tests/simd/simd_targets.hpp, force each one and compare it with the reference).
set_property(TARGET hwy::hwy APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS HWY_WANT_AVX3_DL)
find_package(nlohmann_json 3 REQUIRED)
find_package(simdjson REQUIRED)  # the .jsonl reader's fast path
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL 3 REQUIRED)  # libcrypto's accelerated SHA-256 for manifests
find_package(zstd REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
