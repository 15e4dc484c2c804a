// The scheduler's share of the queue per submitter (max_queued_per_submitter), round-robin
// starts across submitters, and a starting job (taken off the queue, lease not yet claimed)
// staying visible in list().
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "fake_runner.hpp"
#include "jobs/scheduler.hpp"

namespace qkv::jobs {
namespace {

using namespace std::chrono_literals;

// Records the order jobs are claimed in; a claim can be held until released.
struct Claims {
  std::mutex m;
  std::vector<std::string> order;
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
};

struct OrderedLease : JobLease {
  OrderedLease(Claims& c, std::string id, bool hold) : claims(c), id(std::move(id)), hold(hold) {}
  Claims& claims;
  std::string id;
  bool hold;
  bool claim() override {
    {
      std::lock_guard l(claims.m);
      claims.order.push_back(id);
    }
    if (hold) {
      claims.entered.set_value();
      claims.released.wait();
    }
    return true;
  }
  void complete(const JobRecord&, const JobOutcome&) override {}
  void release() override {}
};

struct Fairness : ::testing::Test {
  std::shared_ptr<test::FakeRunner> runner = std::make_shared<test::FakeRunner>();
  std::unique_ptr<Executor> exec = make_default_executor(1);
  Claims claims;

  std::unique_ptr<Scheduler> make(SchedulerOptions o) {
    return std::make_unique<Scheduler>(o, *exec, [r = runner] { return r; });
  }
  static Submitter uid(uint32_t u) {
    Submitter s;
    s.uid = u;
    return s;
  }
  std::shared_ptr<JobRecord> job(const std::string& id, const Submitter& who, bool hold = false) {
    pipeline::JobSpec spec;
    spec.inputs = {"doc"};
    return std::make_shared<JobRecord>(id, spec, who,
                                       std::make_shared<OrderedLease>(claims, id, hold));
  }
  static void wait_end(const std::shared_ptr<JobRecord>& j) {
    std::promise<void> p;
    auto f = p.get_future();
    j->on_end([&p](const JobRecord&) { p.set_value(); });
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << j->id();
  }
};

TEST_F(Fairness, AStartingJobIsListed) {
  auto s = make({.max_queue = 8, .max_running = 1});
  auto starting = job("starting", uid(1), /*hold=*/true);
  s->enqueue(std::move(*s->reserve()), starting);
  ASSERT_EQ(claims.entered.get_future().wait_for(10s), std::future_status::ready);
  // Off the queue, not yet running: list() must still show it (as queued).
  bool listed = false;
  for (auto& j : s->list()) listed = listed || j->id() == "starting";
  EXPECT_TRUE(listed);
  EXPECT_EQ(starting->state(), JobState::queued);
  EXPECT_TRUE(s->find("starting"));
  claims.release.set_value();
  wait_end(starting);
}

TEST_F(Fairness, EachSubmitterHoldsAtMostItsShareOfTheQueue) {
  auto s = make({.max_queue = 8, .max_running = 1, .max_queued_per_submitter = 2});
  auto blocker = job("blocker", uid(9), /*hold=*/true);
  s->enqueue(std::move(*s->reserve()), blocker);
  ASSERT_EQ(claims.entered.get_future().wait_for(10s), std::future_status::ready);
  std::string why;
  for (const char* id : {"a0", "a1"}) {
    ASSERT_TRUE(s->admits(uid(1), &why)) << why;
    s->enqueue(std::move(*s->reserve()), job(id, uid(1)));
  }
  EXPECT_FALSE(s->admits(uid(1), &why));
  EXPECT_NE(why.find("limits.max_queued_per_submitter"), std::string::npos) << why;
  EXPECT_NE(why.find("uid 1"), std::string::npos) << why;
  EXPECT_TRUE(s->admits(uid(2), nullptr));  // others still get places
  EXPECT_TRUE(s->cancel("a0") == CancelResult::cancelled_queued);
  EXPECT_TRUE(s->admits(uid(1), nullptr));  // a place of its own freed
  claims.release.set_value();
  wait_end(blocker);
}

TEST_F(Fairness, JobsStartRoundRobinAcrossSubmitters) {
  auto s = make({.max_queue = 16, .max_running = 1});
  auto blocker = job("blocker", uid(9), /*hold=*/true);
  s->enqueue(std::move(*s->reserve()), blocker);
  ASSERT_EQ(claims.entered.get_future().wait_for(10s), std::future_status::ready);
  std::vector<std::shared_ptr<JobRecord>> jobs;
  for (auto [id, who] : std::vector<std::pair<std::string, uint32_t>>{
           {"a1", 1}, {"a2", 1}, {"a3", 1}, {"b1", 2}, {"b2", 2}, {"c1", 3}}) {
    jobs.push_back(job(id, uid(who)));
    s->enqueue(std::move(*s->reserve()), jobs.back());
  }
  claims.release.set_value();
  for (auto& j : jobs) wait_end(j);
  std::lock_guard l(claims.m);
  EXPECT_EQ(claims.order,
            (std::vector<std::string>{"blocker", "a1", "b1", "c1", "a2", "b2", "a3"}));
}

}  // namespace
}  // namespace qkv::jobs
