// internal::BatchWriter without a database: batches, order, and the backlog signal that
// makes claimers pause while outcomes pile up.
#include "common/batch_writer.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using delta::internal::BatchWriter;
using namespace std::chrono_literals;

// A write that blocks until released, recording every batch it was given.
struct Sink {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  std::vector<std::vector<int>> batches;

  bool write(std::vector<int>& batch) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return open; });
    batches.push_back(batch);
    changed.notify_all();
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    changed.notify_all();
  }
  std::size_t written() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& b : batches)
      n += b.size();
    return n;
  }
};

// Starts `writer` and submits item 0, which the writer takes and blocks on in the sink's
// write: whatever is submitted next waits.
void start_blocked(BatchWriter<int>& writer) {
  writer.start();
  writer.submit(0);
  while (writer.pending() != 0)
    std::this_thread::yield();
}

TEST(batch_writer_test, BacklogIsSignalledOnceMoreThanTwoBatchesWait) {
  Sink sink;
  BatchWriter<int> writer(
      200, 1ms, [&](std::vector<int>& batch) { return sink.write(batch); }, nullptr);
  start_blocked(writer);
  for (int i = 1; i < 400; ++i)
    writer.submit(i);
  EXPECT_EQ(writer.pending(), 399U);
  EXPECT_FALSE(writer.backlogged()) << "two batches' worth is not a backlog yet";
  writer.submit(400);
  EXPECT_TRUE(writer.backlogged());
  sink.release();
  writer.stop();  // writes everything pending first
  EXPECT_FALSE(writer.backlogged());
  ASSERT_EQ(sink.written(), 401U);
  // In order, at most 200 per write.
  int next = 0;
  for (const auto& batch : sink.batches) {
    EXPECT_LE(batch.size(), 200U);
    for (int item : batch)
      EXPECT_EQ(item, next++);
  }
}

TEST(batch_writer_test, SmallBatchesStillAllowAMinimumBacklog) {
  Sink sink;
  BatchWriter<int> writer(
      1, 1ms, [&](std::vector<int>& batch) { return sink.write(batch); }, nullptr);
  start_blocked(writer);
  const int threshold = static_cast<int>(BatchWriter<int>::kBacklog);
  for (int i = 1; i < threshold; ++i)
    writer.submit(i);
  EXPECT_FALSE(writer.backlogged());
  writer.submit(threshold);
  EXPECT_TRUE(writer.backlogged());
  sink.release();
  writer.stop();
  EXPECT_EQ(sink.written(), static_cast<std::size_t>(threshold) + 1);
}

}  // namespace
