// unpack_wheel: two passes over the zip. Pass 1 reads the central directory and the small
// .dist-info control files and validates the structure against RECORD; pass 2 hashes each
// member once, checks it against RECORD and only then hands it to the sink.
#include "wheel/wheel.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "pep/name.hpp"
#include "pep/tags.hpp"
#include "pep/version.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "wheel/record.hpp"
#include "wheel/zip_reader.hpp"

namespace lb::wheel {
namespace {

using detail::ZipEntry;
using detail::ZipReader;

constexpr const char* kHostile = "the wheel is malformed or hostile; do not install it";
constexpr uint64_t kMaxControlFile = uint64_t(64) << 20;  // WHEEL, METADATA, RECORD, ...

struct ScannedFile {
  std::string path;
  bool executable = false;
  uint64_t declared = 0;
};

// Pass 1's result.
struct Scan {
  std::vector<ScannedFile> files;
  std::unordered_map<std::string, size_t> index;  // path -> files[i]
  std::map<std::string, std::string> control;     // "<x>.dist-info/WHEEL" etc. -> content
  std::set<std::string> dist_infos;               // top-level *.dist-info directories
};

std::string size_text(uint64_t n) {
  if (n >= (uint64_t(1) << 30) && n % (uint64_t(1) << 30) == 0)
    return std::to_string(n >> 30) + " GiB";
  if (n >= (uint64_t(1) << 20) && n % (uint64_t(1) << 20) == 0)
    return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

/// "123", "64K", "512M", "2G", "2GiB" (binary multiples); nullopt when malformed.
std::optional<uint64_t> parse_size(std::string_view s) {
  s = trim(s);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 18) return std::nullopt;
  uint64_t n = std::stoull(std::string(s.substr(0, digits)));
  std::string unit = to_lower(std::string(trim(s.substr(digits))));
  if (ends_with(unit, "ib")) unit.resize(unit.size() - 2);
  if (ends_with(unit, "b") && unit.size() == 2) unit.resize(1);
  int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : -1;
  if (shift < 0 || n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

class Unpacker {
 public:
  Unpacker(std::string_view bytes, std::string label, std::string filename, BlobSink* sink,
           const WheelLimits& limits)
      : bytes_(bytes),
        label_(std::move(label)),
        filename_(std::move(filename)),
        sink_(sink),
        limits_(limits) {}

  Result<UnpackedWheel> run() {
    LB_ASSIGN(auto fn, pep::WheelFilename::parse(filename_));
    LB_TRY(scan());
    LB_TRY(check_dist_info(fn.name, fn.version));
    LB_TRY(read_control_files(fn.name, fn.version));
    LB_TRY(check_record());
    LB_TRY(check_parents());
    LB_TRY(store_members());
    return std::move(out_);
  }

 private:
  Error fail(const std::string& what) const { return make_error(label_ + ": " + what, kHostile); }
  Error fail(std::string_view member, const std::string& what) const {
    return make_error(label_ + ": member '" + std::string(member) + "': " + what, kHostile);
  }
  std::string in_dist_info(std::string_view file) const {
    return out_.dist_info + "/" + std::string(file);
  }
  bool is_unhashed(std::string_view path) const {  // RECORD and its signatures
    return path == in_dist_info("RECORD") || path == in_dist_info("RECORD.jws") ||
           path == in_dist_info("RECORD.p7s");
  }
  bool is_signature(std::string_view path) const {
    return is_unhashed(path) && path != in_dist_info("RECORD");
  }

  Error over_limit(std::string_view member, const std::string& what, const char* var) const {
    std::string where = member.empty() ? label_ : label_ + ": member '" + std::string(member) + "'";
    return make_error(where + ": " + what + " (a zip bomb?)",
                      std::string("do not install this wheel; if you trust it, raise the limit "
                                  "with ") +
                          var + " (see docs/LIMITS.md)");
  }

  // Sizes as the central directory declares them; reading never goes past them.
  Status check_limits(const ZipEntry& e, uint64_t total) const {
    const WheelLimits& l = limits_;
    if (l.max_member_size && e.size > l.max_member_size)
      return over_limit(e.path,
                        "uncompressed size " + std::to_string(e.size) + " bytes exceeds the " +
                            size_text(l.max_member_size) + " limit per member",
                        "LAVABUILD_MAX_MEMBER_SIZE");
    if (l.max_ratio && e.size > l.ratio_floor &&
        e.size / l.max_ratio >= std::max<uint64_t>(e.compressed_size, 1))
      return over_limit(e.path,
                        "compressed " + std::to_string(e.compressed_size) + " bytes expand to " +
                            std::to_string(e.size) + ", more than the " +
                            std::to_string(l.max_ratio) + ":1 compression-ratio limit",
                        "LAVABUILD_MAX_COMPRESSION_RATIO");
    if (l.max_wheel_size && total > l.max_wheel_size)
      return over_limit("",
                        "uncompressed size exceeds the " + size_text(l.max_wheel_size) +
                            " limit per wheel (at member '" + e.path + "')",
                        "LAVABUILD_MAX_WHEEL_SIZE");
    if (l.max_ratio && total > l.ratio_floor &&
        total / l.max_ratio >= std::max<uint64_t>(bytes_.size(), 1))
      return over_limit("",
                        "its " + std::to_string(bytes_.size()) + " bytes expand to more than " +
                            std::to_string(total) + " (at member '" + e.path +
                            "'), more than the " + std::to_string(l.max_ratio) +
                            ":1 compression-ratio limit",
                        "LAVABUILD_MAX_COMPRESSION_RATIO");
    return {};
  }

  Status scan() {
    LB_ASSIGN(auto zip, ZipReader::open(bytes_, label_));
    uint64_t total = 0;
    for (;;) {
      auto next = zip.next();
      if (!next.ok()) return next.error().context(label_);
      if (!*next) break;
      ZipEntry& e = **next;
      if (!e.utf8)
        return fail(e.path,
                    "the name is not valid UTF-8 (shown with \\x escapes); wheels "
                    "must name their members in UTF-8");
      if (e.encrypted) return fail(e.path, "is encrypted");
      if (e.type == ZipEntry::Type::other)
        return fail(e.path, std::string("is ") + e.kind + ", not a regular file");
      Status ok = check_member_path(e.path, e.type == ZipEntry::Type::dir);
      if (!ok) return fail(e.path, ok.error().message);
      if (e.type == ZipEntry::Type::dir) continue;
      if (scan_.index.count(e.path)) return fail(e.path, "appears twice in the archive");
      total += std::min<uint64_t>(e.size, uint64_t(1) << 62);
      LB_TRY(check_limits(e, total));
      size_t slash = e.path.find('/');
      std::string top = e.path.substr(0, slash);
      if (slash != std::string::npos && ends_with(top, ".dist-info")) {
        scan_.dist_infos.insert(top);
        std::string_view rest = std::string_view(e.path).substr(slash + 1);
        if (rest == "WHEEL" || rest == "METADATA" || rest == "RECORD" ||
            rest == "entry_points.txt") {
          std::string& text = scan_.control[e.path];
          Status read = zip.read(kMaxControlFile, [&](std::string_view d) { text.append(d); });
          if (!read) return fail(e.path, read.error().message);
        }
      }
      scan_.index.emplace(e.path, scan_.files.size());
      scan_.files.push_back({std::move(e.path), (e.mode & 0111) != 0, e.size});
    }
    return {};
  }

  Status check_dist_info(const std::string& name, const std::string& version) {
    if (scan_.dist_infos.size() != 1) {
      std::vector<std::string> all(scan_.dist_infos.begin(), scan_.dist_infos.end());
      return fail(scan_.dist_infos.empty()
                      ? "has no top-level .dist-info directory"
                      : "has " + std::to_string(all.size()) + " .dist-info directories (" +
                            join(all, ", ") + "); expected one");
    }
    out_.dist_info = *scan_.dist_infos.begin();
    std::string stem = out_.dist_info.substr(0, out_.dist_info.size() - 10);
    size_t dash = stem.rfind('-');
    if (dash == std::string::npos ||
        !same_project(stem.substr(0, dash), stem.substr(dash + 1), name, version))
      return fail("directory '" + out_.dist_info + "' does not match the wheel's name " + name +
                  " and version " + version);
    out_.data_dir = stem + ".data";
    return {};
  }

  static bool same_project(const std::string& n1, const std::string& v1, const std::string& n2,
                           const std::string& v2) {
    if (pep::normalize_name(n1) != pep::normalize_name(n2)) return false;
    auto a = pep::Version::parse(v1), b = pep::Version::parse(v2);
    return a.ok() && b.ok() ? *a == *b : v1 == v2;
  }

  const std::string* control(std::string_view file) const {
    auto it = scan_.control.find(in_dist_info(file));
    return it == scan_.control.end() ? nullptr : &it->second;
  }

  Status read_control_files(const std::string& name, const std::string& version) {
    const std::string* wheel = control("WHEEL");
    if (!wheel) return fail("has no " + in_dist_info("WHEEL"));
    LB_TRY(read_wheel_file(*wheel));
    const std::string* metadata = control("METADATA");
    if (!metadata) return fail("has no " + in_dist_info("METADATA"));
    auto md = parse_core_metadata(*metadata);
    if (!md.ok()) return fail(in_dist_info("METADATA"), md.error().message);
    if (!same_project(md->name, md->version, name, version))
      return fail(in_dist_info("METADATA"), "names " + md->name + " " + md->version +
                                                ", but the file name says " + name + " " + version);
    out_.metadata = std::move(*md);
    if (const std::string* eps = control("entry_points.txt")) {
      auto parsed = parse_entry_points(*eps);
      if (!parsed.ok()) return fail(in_dist_info("entry_points.txt"), parsed.error().message);
      out_.entry_points = std::move(*parsed);
    }
    return {};
  }

  Status read_wheel_file(const std::string& text) {
    std::string where = in_dist_info("WHEEL");
    bool have_version = false, purelib = false;
    for (const auto& [key, value] : parse_email_headers(text)) {
      std::string k = to_lower(key);
      if (k == "wheel-version" && !have_version) {
        have_version = true;
        out_.wheel_version = value;
      } else if (k == "root-is-purelib") {
        purelib = to_lower(value) == "true";
      }
    }
    auto parts = split(out_.wheel_version, '.');
    auto is_num = [](const std::string& s) {
      return !s.empty() && s.size() < 9 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (!have_version || parts.size() != 2 || !is_num(parts[0]) || !is_num(parts[1]))
      return fail(where, "Wheel-Version \"" + out_.wheel_version + "\" is missing or malformed");
    if (std::stoi(parts[0]) != 1)
      return make_error(label_ + ": member '" + where + "': Wheel-Version " + out_.wheel_version +
                            " is not supported (only 1.x)",
                        "the wheel needs a newer installer; use a wheel built for Wheel-Version 1");
    if (std::stoi(parts[1]) > 0)
      out_.warnings.push_back(label_ + ": Wheel-Version " + out_.wheel_version +
                              " is newer than 1.0; installing anyway");
    out_.root_is_purelib = purelib;
    return {};
  }

  Status check_record() {
    const std::string* text = control("RECORD");
    if (!text) return fail("has no " + in_dist_info("RECORD"));
    auto rows = parse_record(*text);
    if (!rows.ok()) return fail(in_dist_info("RECORD"), rows.error().message);
    rows_ = std::move(*rows);
    for (const auto& row : rows_) {
      Status ok = check_member_path(row.path);
      if (!ok)
        return fail(in_dist_info("RECORD"), "lists '" + row.path + "': " + ok.error().message);
      if (!record_.emplace(row.path, &row).second)
        return fail(in_dist_info("RECORD"), "lists '" + row.path + "' twice");
      if (!is_unhashed(row.path) && !scan_.index.count(row.path))
        return fail(row.path, "is listed in RECORD but missing from the archive");
    }
    for (const auto& f : scan_.files) {
      if (is_unhashed(f.path)) continue;
      auto it = record_.find(f.path);
      if (it == record_.end()) return fail(f.path, "is not listed in RECORD");
      const RecordRow& row = *it->second;
      if (!starts_with(row.hash, "sha256="))
        return fail(f.path, "RECORD hash \"" + row.hash + "\" is not sha256=...");
      if (!row.size) return fail(f.path, "has no size in RECORD");
      if (*row.size != f.declared)
        return fail(f.path, "is " + std::to_string(f.declared) + " bytes, RECORD says " +
                                std::to_string(*row.size));
    }
    return {};
  }

  // A file "a" and a file "a/b" cannot both be installed.
  Status check_parents() const {
    for (const auto& f : scan_.files)
      for (size_t p = f.path.find('/'); p != std::string::npos; p = f.path.find('/', p + 1))
        if (scan_.index.count(f.path.substr(0, p)))
          return fail(f.path, "lies inside '" + f.path.substr(0, p) + "', which is a file");
    return {};
  }

  Status store_members() {
    LB_ASSIGN(auto zip, ZipReader::open(bytes_, label_));
    std::string content;
    out_.members.reserve(scan_.files.size());
    for (;;) {
      auto next = zip.next();
      if (!next.ok()) return next.error().context(label_);
      if (!*next) break;
      const ZipEntry& e = **next;
      auto it = scan_.index.find(e.path);
      if (e.type != ZipEntry::Type::file || it == scan_.index.end()) continue;  // directories
      const ScannedFile& f = scan_.files[it->second];
      if (is_signature(f.path)) continue;
      auto row = record_.find(f.path);
      bool listed = row != record_.end() && row->second->size;
      uint64_t limit = listed ? *row->second->size : kMaxControlFile;
      content.clear();
      // Declared sizes are only claims: grow past 64 MiB as the data actually arrives.
      content.reserve(size_t(std::min({f.declared, limit, uint64_t(64) << 20})));
      Sha256 sha;
      Status read = zip.read(limit, [&](std::string_view d) {
        sha.update(d);
        content.append(d);
      });
      if (!read) return fail(f.path, read.error().message);
      std::string hex = sha.hex_digest();
      if (listed && content.size() != limit)
        return fail(f.path, "is " + std::to_string(content.size()) + " bytes, RECORD says " +
                                std::to_string(limit));
      if (!is_unhashed(f.path) && !same_hash(row->second->hash, hex))
        return fail(f.path, "sha256 does not match RECORD (RECORD says " + row->second->hash +
                                ", content is " + record_hash_from_hex(hex) + ")");
      LB_ASSIGN(std::string stored, sink_->put_blob_hashed(content, f.executable, hex));
      if (stored != hex)
        return make_error(label_ + ": member '" + f.path + "': the store returned sha256 " +
                          stored + ", expected " + hex);
      out_.members.push_back({f.path, std::move(hex), content.size(), f.executable});
    }
    return {};
  }

  static bool same_hash(std::string_view record_hash, const std::string& hex) {
    while (ends_with(record_hash, "=") && record_hash.size() > 7) record_hash.remove_suffix(1);
    return record_hash == record_hash_from_hex(hex);
  }

  std::string_view bytes_;
  std::string label_, filename_;
  BlobSink* sink_;
  WheelLimits limits_;
  Scan scan_;
  std::vector<RecordRow> rows_;
  std::unordered_map<std::string, const RecordRow*> record_;
  UnpackedWheel out_;
};

}  // namespace

Result<WheelLimits> WheelLimits::from_env() {
  WheelLimits l;
  struct Var {
    const char* name;
    uint64_t* field;
    bool is_size;
  };
  for (const Var& v : {Var{"LAVABUILD_MAX_MEMBER_SIZE", &l.max_member_size, true},
                       Var{"LAVABUILD_MAX_WHEEL_SIZE", &l.max_wheel_size, true},
                       Var{"LAVABUILD_MAX_COMPRESSION_RATIO", &l.max_ratio, false}}) {
    const char* text = std::getenv(v.name);
    if (!text || !*text) continue;
    auto n = parse_size(text);
    if (!n || (!v.is_size &&
               std::string_view(text).find_first_not_of("0123456789 ") != std::string_view::npos))
      return make_error(
          std::string(v.name) + "=" + text + " is not " + (v.is_size ? "a size" : "a whole number"),
          v.is_size ? "give bytes, or a number with K, M or G (binary); 0 = no limit"
                    : "give a whole number such as 100; 0 = no limit");
    *v.field = *n;
  }
  return l;
}

Result<UnpackedWheel> unpack_wheel_from_memory(std::string_view bytes,
                                               const std::string& wheel_filename, BlobSink& sink,
                                               const WheelLimits& limits) {
  return Unpacker(bytes, wheel_filename, wheel_filename, &sink, limits).run();
}

Result<UnpackedWheel> unpack_wheel_from_memory(std::string_view bytes,
                                               const std::string& wheel_filename, BlobSink& sink) {
  LB_ASSIGN(WheelLimits limits, WheelLimits::from_env());
  return Unpacker(bytes, wheel_filename, wheel_filename, &sink, limits).run();
}

Result<UnpackedWheel> unpack_wheel(const std::string& wheel_path, const std::string& wheel_filename,
                                   BlobSink& sink) {
  LB_ASSIGN(WheelLimits limits, WheelLimits::from_env());
  LB_ASSIGN(auto map, detail::MappedFile::open(wheel_path));
  // Errors name the wheel, not the store blob it is kept in.
  const std::string& label =
      fs::basename(wheel_path) == wheel_filename ? wheel_path : wheel_filename;
  return Unpacker(map.bytes(), label, wheel_filename, &sink, limits).run();
}

Result<UnpackedWheel> unpack_wheel(const std::string& wheel_path, BlobSink& sink) {
  return unpack_wheel(wheel_path, fs::basename(wheel_path), sink);
}

Result<std::string> read_wheel_metadata(const std::string& wheel_path) {
  LB_ASSIGN(auto map, detail::MappedFile::open(wheel_path));
  auto fn = pep::WheelFilename::parse(fs::basename(wheel_path));
  std::string want = fn.ok() ? pep::normalize_name(fn->name) : std::string();
  LB_ASSIGN(auto zip, ZipReader::open(map.bytes(), wheel_path));
  for (;;) {
    auto next = zip.next();
    if (!next.ok()) return next.error().context(wheel_path);
    if (!*next) break;
    const ZipEntry& e = **next;
    size_t slash = e.path.find('/');
    if (e.type != ZipEntry::Type::file || slash == std::string::npos ||
        e.path.compare(slash, std::string::npos, "/METADATA") != 0)
      continue;
    std::string_view dir = std::string_view(e.path).substr(0, slash);
    if (!ends_with(dir, ".dist-info")) continue;
    dir.remove_suffix(10);
    if (!want.empty() && pep::normalize_name(dir.substr(0, dir.rfind('-'))) != want) continue;
    std::string text;
    Status read = zip.read(kMaxControlFile, [&](std::string_view d) { text.append(d); });
    if (!read)
      return make_error(wheel_path + ": member '" + e.path + "': " + read.error().message,
                        kHostile);
    return text;
  }
  return make_error(wheel_path + ": no .dist-info/METADATA member",
                    "the file is not a valid wheel; delete it and fetch it again");
}

}  // namespace lb::wheel
