// Helpers shared by the net unit tests.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "net/index.hpp"

namespace lb::test {

/// A PageCache held in memory, safe to use from several threads.
struct MapCache : net::PageCache {
  std::mutex mu;
  std::map<std::string, net::CachedPage> pages;
  std::optional<net::CachedPage> get(const std::string& url) override {
    std::lock_guard lock(mu);
    auto it = pages.find(url);
    return it == pages.end() ? std::nullopt : std::optional<net::CachedPage>(it->second);
  }
  void put(const std::string& url, const net::CachedPage& p) override {
    std::lock_guard lock(mu);
    pages[url] = p;
  }
};

}  // namespace lb::test
