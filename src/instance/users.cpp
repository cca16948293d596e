#include "instance/users.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"

namespace lb::instance {

Result<User> find_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found)
    return make_error("no user '" + name + "' on this host",
                      "create it first, or pass --user alone for a system user lb-NAME");
  return User{name, pw.pw_uid, pw.pw_gid};
}

Result<User> ensure_system_user(const std::string& name, const std::string& home) {
  if (auto u = find_user(name); u.ok()) return u;
  LB_ASSIGN(ProcessResult r,
            run_process({"useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                         home, "--shell", "/usr/sbin/nologin", name}));
  if (r.exit_code != 0)
    return make_error(
        "cannot create the user " + name + ": " + std::string(trim(r.err)),
        "lavabuild must run as root to make users; or create it and pass --user " + name);
  return find_user(name);
}

namespace {
Status chown_below(int dirfd, const std::string& where, uid_t uid, gid_t gid) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return make_error("cannot read " + where + ": " + std::strerror(errno));
  }
  Status st;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat s {};
    if (::fstatat(::dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // A file with other names may be a hard link the user made to a file that is not theirs
    // (where fs.protected_hardlinks is off): never given away.
    bool foreign_link = !S_ISDIR(s.st_mode) && s.st_nlink > 1 && s.st_uid != uid;
    if (!foreign_link && ::fchownat(::dirfd(d), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      st = make_error("cannot chown " + where + "/" + n + ": " + std::strerror(errno));
      break;
    }
    if (S_ISDIR(s.st_mode)) {
      int fd = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      st = chown_below(fd, where + "/" + n, uid, gid);
      if (!st.ok()) break;
    }
  }
  ::closedir(d);
  return st;
}
}  // namespace

Status chown_tree(const std::string& path, uid_t uid, gid_t gid) {
  if (::lchown(path.c_str(), uid, gid) != 0)
    return make_error("cannot chown " + path + ": " + std::strerror(errno));
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return {};  // not a directory
  return chown_below(fd, path, uid, gid);
}

std::vector<std::string> as_user(const User& u) {
  return {"setpriv", "--reuid=" + std::to_string(u.uid), "--regid=" + std::to_string(u.gid),
          "--clear-groups"};
}

Status clear_special_bits(const std::string& path) {
  auto names = fs::list_dir(path);
  if (!names.ok()) return names.error();
  for (const auto& n : *names) {
    std::string full = path + "/" + n;
    struct stat s {};
    if (::lstat(full.c_str(), &s) != 0 || S_ISLNK(s.st_mode)) continue;
    if ((s.st_mode & 07000) && ::chmod(full.c_str(), s.st_mode & 0777) != 0)
      return make_error("cannot chmod " + full + ": " + std::strerror(errno));
    if (S_ISDIR(s.st_mode)) LB_TRY(clear_special_bits(full));
  }
  return {};
}

}  // namespace lb::instance
