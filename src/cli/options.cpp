#include "cli/options.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace po = boost::program_options;

namespace lb::cli {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return false;
  std::string s = v;
  return s == "1" || s == "true" || s == "yes" || s == "on";
}

constexpr const char* kUsage = R"(usage: lavabuild COMMAND [OPTIONS]

commands:
  env [REQ_FILE|pylock.toml ...] [-o DIR]   make or update a virtual environment
  plan REQ_FILE ... [--format text|dot|json]  show the step graph and what would run, and why
  lock REQ_FILE ... -o pylock.toml          resolve, pin and hash (PEP 751)
  verify ENV                                 compare an env with its manifest
  cache stats|verify [--repair]              inspect the store (and repair it)

)";

}  // namespace

std::string default_cache_dir() {
  std::string dir = env_or("LAVABUILD_CACHE_DIR", "");
  if (!dir.empty()) return dir;
  std::string xdg = env_or("XDG_CACHE_HOME", "");
  if (!xdg.empty()) return xdg + "/lavabuild";
  return env_or("HOME", "/tmp") + "/.cache/lavabuild";
}

Result<Options> parse_options(int argc, char** argv, std::string& help_text) {
  Options o;
  po::options_description desc("options");
  std::vector<std::string> reqs;
  std::string index_url;
  desc.add_options()("help,h", "show this help")("requirement,r",
                                                 po::value<std::vector<std::string>>(&reqs),
                                                 "requirements file (repeatable)")(
      "constraint,c", po::value<std::vector<std::string>>(&o.constraints),
      "constraints file (repeatable)")("output,o", po::value<std::string>(&o.output),
                                       "env directory (env, default .venv) or lock file (lock)")(
      "python", po::value<std::string>(&o.python),
      "interpreter path, name or version (default python3)")(
      "index-url,i", po::value<std::string>(&index_url), "base URL of the package index")(
      "extra-index-url", po::value<std::vector<std::string>>(&o.extra_index_urls),
      "additional index")("find-links,f", po::value<std::vector<std::string>>(&o.find_links),
                          "directory or page of archives")("no-index", po::bool_switch(&o.no_index),
                                                           "ignore package indexes")(
      "offline", po::bool_switch(&o.offline), "use only the cache, no network")(
      "require-hashes", po::bool_switch(&o.require_hashes), "every requirement needs --hash")(
      "pre", po::bool_switch(&o.pre), "allow pre-releases")("seed", po::bool_switch(&o.seed),
                                                            "also install pip into the env")(
      "jobs,j", po::value<int>(&o.jobs), "parallel steps (default: cores)")(
      "timeout", po::value<long>(&o.timeout),
      "seconds a connection may stall (default 30, $LAVABUILD_HTTP_TIMEOUT)")(
      "cache-dir", po::value<std::string>(&o.cache_dir),
      "the store (default $XDG_CACHE_HOME/lavabuild)")(
      "link-mode", po::value<std::string>(&o.link_mode), "hardlink|clone|copy")(
      "locked", po::value<std::string>(&o.locked), "fail unless the requirements match this lock")(
      "format", po::value<std::string>(&o.format), "plan output: text|dot|json")(
      "json", po::bool_switch(&o.json), "one JSON object on stdout")(
      "repair", po::bool_switch(&o.repair),
      "cache verify: remove corrupt files and the entries that need them")(
      "verbose,v", po::value<int>()->implicit_value(1)->zero_tokens(),
      "explain why each step runs");
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return make_error(std::string("usage: ") + e.what(), "run `lavabuild --help`");
  }
  if (vm.count("help") || argc < 2) {
    std::ostringstream ss;
    ss << kUsage << desc;
    help_text = ss.str();
    return o;
  }
  if (vm.count("verbose")) o.verbose = 1;
  std::vector<std::string> args;
  if (vm.count("args")) args = vm["args"].as<std::vector<std::string>>();
  if (args.empty()) return make_error("usage: missing command", "run `lavabuild --help`");
  o.command = args.front();
  args.erase(args.begin());
  if (o.command == "cache") {
    if (args.empty()) return make_error("usage: lavabuild cache stats|verify");
    o.cache_action = args.front();
    args.erase(args.begin());
  }
  o.inputs = args;
  for (auto& r : reqs) o.inputs.push_back(r);
  if (!index_url.empty()) o.index_url = index_url;

  // LAVABUILD_* variables fill what the command line left unset.
  if (o.cache_dir.empty()) o.cache_dir = default_cache_dir();
  if (o.python.empty()) o.python = env_or("LAVABUILD_PYTHON", "");
  if (!o.index_url) {
    std::string v = env_or("LAVABUILD_INDEX_URL", "");
    if (!v.empty()) o.index_url = v;
  }
  if (!vm.count("link-mode")) o.link_mode = env_or("LAVABUILD_LINK_MODE", o.link_mode);
  if (!o.offline) o.offline = env_flag("LAVABUILD_OFFLINE");
  if (!o.no_index) o.no_index = env_flag("LAVABUILD_NO_INDEX");
  if (o.jobs <= 0) o.jobs = std::atoi(env_or("LAVABUILD_JOBS", "0").c_str());
  if (o.jobs <= 0) o.jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.output.empty() && o.command == "env") o.output = env_or("LAVABUILD_OUTPUT", ".venv");

  static const std::vector<std::string> commands = {"env", "plan", "lock", "verify", "cache"};
  if (std::find(commands.begin(), commands.end(), o.command) == commands.end())
    return make_error("usage: unknown command '" + o.command + "'", "run `lavabuild --help`");
  if (o.link_mode != "hardlink" && o.link_mode != "clone" && o.link_mode != "copy")
    return make_error("usage: --link-mode must be hardlink, clone or copy, not '" + o.link_mode +
                      "'");
  if (o.format != "text" && o.format != "dot" && o.format != "json")
    return make_error("usage: --format must be text, dot or json");
  if (o.command == "lock" && o.output.empty())
    return make_error("usage: lavabuild lock needs -o pylock.toml");
  if ((o.command == "plan" || o.command == "lock") && o.inputs.empty())
    return make_error("usage: lavabuild " + o.command + " needs a requirements file");
  if (o.command == "env" && o.inputs.empty())
    return make_error("usage: lavabuild env needs a requirements file or a pylock.toml",
                      "lavabuild env requirements.txt -o DIR");
  if (o.command == "cache" && o.cache_action != "stats" && o.cache_action != "verify")
    return make_error("usage: lavabuild cache stats|verify, not '" + o.cache_action + "'");
  if (vm.count("timeout") && o.timeout <= 0)
    return make_error("usage: --timeout must be a positive number of seconds");
  if (o.command == "verify" && o.inputs.size() != 1)
    return make_error("usage: lavabuild verify ENV");
  return o;
}

}  // namespace lb::cli
