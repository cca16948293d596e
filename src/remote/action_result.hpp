// REAPI v2 ActionResult in protobuf wire format, for the HTTP cache's /ac/ values (bazel-remote
// rejects anything else, and re-serializes what it stores). Hand-written: only the fields
// lavabuild writes and reads, so the main executable does not link libprotobuf.
//
//   ActionResult { repeated OutputFile output_files = 2; int32 exit_code = 4; ... }
//   OutputFile   { string path = 1; Digest digest = 2; bool is_executable = 4; ... }
//   Digest       { string hash = 1; int64 size_bytes = 2; }
// Unknown fields (a server may add execution_metadata = 9, etc.) are skipped on reading; a
// malformed message (truncated, bad varint, wrong wire type for a known field, a digest hash
// that is not 64 lowercase hex digits, a negative size, nesting beyond the fields above) is
// an error. Limits: at most 1,000,000 output files, paths of at most 4096 bytes.
#pragma once

#include <string>
#include <string_view>

#include "remote/cache.hpp"
#include "util/result.hpp"

namespace lb::remote {

std::string encode_action_result(const ActionEntry& entry);
Result<ActionEntry> decode_action_result(std::string_view bytes);

}  // namespace lb::remote
