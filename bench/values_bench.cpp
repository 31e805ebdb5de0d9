// Microbenchmarks of the text codecs every statement goes through: building parameter
// lists (incl. the array parameters batched statements use) and decoding result fields.
//
//   build/release/bench/values_bench
#include <benchmark/benchmark.h>

#include <delta/pg_values.hpp>

namespace {

void BM_ParamsScalars(benchmark::State& state) {
  const std::string kind = "user";
  const auto ts = delta::now();
  for (auto _ : state) {
    delta::pg::Params params(kind, std::int64_t{123456789}, true, ts, std::optional<int>{});
    benchmark::DoNotOptimize(params);
  }
}
BENCHMARK(BM_ParamsScalars);

void BM_TextArrayParam(benchmark::State& state) {
  std::vector<std::string> ids;
  for (int i = 0; i < state.range(0); ++i)
    ids.push_back("object-" + std::to_string(i));
  for (auto _ : state) {
    delta::pg::Params params(ids);
    benchmark::DoNotOptimize(params);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_TextArrayParam)->Arg(1000);

void BM_DecodeTimestamp(benchmark::State& state) {
  for (auto _ : state) {
    auto ts = delta::pg::Codec<delta::Timestamp>::decode("2026-11-28 00:27:28.123456+00");
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_DecodeTimestamp);

void BM_DecodeBigintArray(benchmark::State& state) {
  std::string literal = "{";
  for (int i = 0; i < state.range(0); ++i) {
    if (i > 0) literal += ',';
    literal += std::to_string(1000000 + i);
  }
  literal += '}';
  for (auto _ : state) {
    auto values = delta::pg::Codec<std::vector<std::int64_t>>::decode(literal);
    benchmark::DoNotOptimize(values);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeBigintArray)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
