// libarchive, loaded on first use: it and what it pulls in (libxml2, ICU, nettle, liblzma...)
// cost ~2 ms of dynamic linking at every start, and most runs (the no-op re-run, an env from
// stored unpacks, verify, cache) never read an archive. Only zip_reader.cpp and
// source/archive.cpp include this header, which calls through a table of libarchive's
// functions filled by dlopen/dlsym; its types and constants come from <archive.h>.
//
// Call libarchive::load() before the first LA(...) call of a code path: it says why
// libarchive could not be loaded (once per process, the answer kept). LA(fn) is then
// libarchive's fn.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>

#include "util/result.hpp"

namespace lb::libarchive {

#define LB_LIBARCHIVE_FUNCTIONS(X)     \
  X(archive_entry_filetype)            \
  X(archive_entry_hardlink)            \
  X(archive_entry_hardlink_utf8)       \
  X(archive_entry_is_encrypted)        \
  X(archive_entry_mtime)               \
  X(archive_entry_mtime_is_set)        \
  X(archive_entry_mtime_nsec)          \
  X(archive_entry_pathname)            \
  X(archive_entry_pathname_utf8)       \
  X(archive_entry_perm)                \
  X(archive_entry_size)                \
  X(archive_entry_size_is_set)         \
  X(archive_entry_symlink)             \
  X(archive_entry_symlink_utf8)        \
  X(archive_error_string)              \
  X(archive_read_data_block)           \
  X(archive_read_free)                 \
  X(archive_read_new)                  \
  X(archive_read_next_header)          \
  X(archive_read_open_filename)        \
  X(archive_read_open_memory)          \
  X(archive_read_support_filter_bzip2) \
  X(archive_read_support_filter_gzip)  \
  X(archive_read_support_filter_xz)    \
  X(archive_read_support_format_tar)   \
  X(archive_read_support_format_zip_seekable)

struct Functions {
#define LB_LIBARCHIVE_MEMBER(fn) decltype(&::fn) fn = nullptr;
  LB_LIBARCHIVE_FUNCTIONS(LB_LIBARCHIVE_MEMBER)
#undef LB_LIBARCHIVE_MEMBER
};

/// Load libarchive (its soname, found when lavabuild was built) and every function above;
/// an error naming the library and what to install when that fails.
Status load();
/// The table load() filled (all null before a successful load()).
const Functions& functions();

}  // namespace lb::libarchive

#define LA(fn) (::lb::libarchive::functions().fn)
