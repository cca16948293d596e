// A small fixed-size thread pool: submit tasks, wait for all of them.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lb::graph {

/// `threads` workers running submitted tasks in FIFO order. Tasks must not throw (an escaping
/// exception terminates the process). Tasks may submit more tasks.
class ThreadPool {
 public:
  /// Starts max(1, threads) workers.
  explicit ThreadPool(int threads);
  /// Runs every queued task, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> task);
  /// Block until the queue is empty and no task is running (tasks submitted by tasks included).
  void wait();
  int size() const { return static_cast<int>(workers_.size()); }

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable task_ready_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace lb::graph
