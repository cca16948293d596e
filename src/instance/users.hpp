// The instance's Unix user (`--user`): looked up, or made with useradd as a system user
// (no home directory of its own, no login shell).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "util/result.hpp"

namespace lb::instance {

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<User> find_user(const std::string& name);
/// The argv prefix that runs a command as `u` (its uid and gid, no supplementary groups; the
/// environment as it is): setpriv --reuid=UID --regid=GID --clear-groups.
std::vector<std::string> as_user(const User& u);
/// find_user, else `useradd --system --user-group` it (its home: `home`, not created).
Result<User> ensure_system_user(const std::string& name, const std::string& home);
/// lchown everything under `path` (and `path`); a hard-linked file not the user's already
/// is left alone.
Status chown_tree(const std::string& path, uid_t uid, gid_t gid);
/// Clear setuid, setgid and sticky bits under `path` (a tree root just unpacked from a
/// backup, which nobody else can reach yet).
Status clear_special_bits(const std::string& path);

}  // namespace lb::instance
