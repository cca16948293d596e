#include "graph/thread_pool.hpp"

#include <algorithm>

namespace lb::graph {

ThreadPool::ThreadPool(int threads) {
  int n = std::max(1, threads);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> g(mutex_);
    stopping_ = true;
  }
  task_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    queue_.push_back(std::move(task));
  }
  task_ready_.notify_one();
}

void ThreadPool::wait() {
  std::unique_lock<std::mutex> g(mutex_);
  idle_.wait(g, [this] { return queue_.empty() && running_ == 0; });
}

void ThreadPool::work() {
  std::unique_lock<std::mutex> g(mutex_);
  for (;;) {
    task_ready_.wait(g, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    g.unlock();
    task();
    g.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

}  // namespace lb::graph
