#include "cli/options.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli/config.hpp"
#include "lavabuild/version.hpp"
#include "net/http.hpp"
#include "pep/name.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

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
  cache gc [--max-size SIZE] [--dry-run]     remove what no env or lock uses
  cache push ENV|pylock.toml                 publish what they need to the remote cache
  cache pull pylock.toml                     fetch what a lock needs from the remote cache
  cache keygen --name NAME --secret-key FILE --public-key FILE
                                             make a key pair to sign remote cache entries
  instance create NAME -r REQ|pylock.toml [--recipe FILE] [--env KEY=VALUE ...]
  instance list|generations|upgrade|rollback|gc|start|stop|restart|status|logs|backup|
           restore|remove ...
                                             named instances of a service (`instance --help`)

)";

constexpr int kMaxJobs = 1024;

/// -j / LAVABUILD_JOBS: a whole number from 1 to kMaxJobs; `source` names where it came from.
Result<int> parse_jobs(const std::string& text, const std::string& source) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kMaxJobs)
    return make_error("usage: " + source + " must be a number of parallel steps from 1 to " +
                          std::to_string(kMaxJobs) + ", not '" + text + "'",
                      "leave it out to use one per core");
  return n;
}

/// pip's list variables (PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS) are separated by whitespace.
std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const std::vector<std::string> kCommands = {"env", "plan", "lock", "verify", "cache", "instance"};
const std::vector<std::string> kInstanceActions = {
    "create", "list",    "generations", "upgrade", "rollback", "gc",      "start",
    "stop",   "restart", "status",      "logs",    "backup",   "restore", "remove"};
const std::vector<std::string> kCacheActions = {"stats", "gc", "verify", "push", "pull", "keygen"};

struct CommandHelp {
  const char* usage;
  const char* what;
  std::vector<std::string> options;    ///< long names, in the order of the overview
  std::vector<std::string> variables;  ///< names in kVariables
};

const std::vector<std::string> kLimitVariables = {
    "LAVABUILD_MAX_MEMBER_SIZE", "LAVABUILD_MAX_WHEEL_SIZE", "LAVABUILD_MAX_COMPRESSION_RATIO",
    "LAVABUILD_MAX_PAGE_SIZE",   "LAVABUILD_MAX_PAGE_FILES", "LAVABUILD_MAX_DOWNLOAD_SIZE",
    "LAVABUILD_HTTP_TIMEOUT",    "LAVABUILD_HTTP_LOW_SPEED", "LAVABUILD_HTTP_DEADLINE"};

const std::map<std::string, std::string>& variable_help() {
  static const std::map<std::string, std::string> m = {
      {"LAVABUILD_CACHE_DIR", "the store, when --cache-dir is not given"},
      {"XDG_CACHE_HOME", "the store is $XDG_CACHE_HOME/lavabuild (else ~/.cache/lavabuild)"},
      {"LAVABUILD_PYTHON", "the interpreter, when --python is not given"},
      {"LAVABUILD_INDEX_URL",
       "the index, when -i is not given (wins over a requirement file's -i)"},
      {"PIP_INDEX_URL", "the index, below -i, LAVABUILD_INDEX_URL and a requirement file's -i"},
      {"PIP_EXTRA_INDEX_URL",
       "extra indexes (space-separated), when --extra-index-url is not given"},
      {"PIP_FIND_LINKS", "find-links (space-separated), when -f is not given"},
      {"LAVABUILD_LINK_MODE", "hardlink|clone|copy, when --link-mode is not given"},
      {"LAVABUILD_JOBS", "parallel steps (1 to 1024), when -j is not given"},
      {"LAVABUILD_OFFLINE", "1/true/yes/on: as --offline"},
      {"LAVABUILD_NO_INDEX", "1/true/yes/on: as --no-index"},
      {"LAVABUILD_OUTPUT", "the env directory, when -o is not given (default .venv)"},
      {"LAVABUILD_ROOT", "instance: the root of the instances, when --root is not given"},
      {"LAVABUILD_CONFIG", "a config file to read instead of the user's and the project's"},
      {"LAVABUILD_NO_CONFIG", "1/true/yes/on: as --no-config"},
      {"XDG_CONFIG_HOME", "the user's config is $XDG_CONFIG_HOME/lavabuild/config.toml"},
      {"LAVABUILD_MAX_*", "limits on wheels, pages and downloads (docs/LIMITS.md)"},
      {"LAVABUILD_HTTP_*", "network timeouts (docs/LIMITS.md)"},
      {"LAVABUILD_REMOTE_CACHE", "the remote cache URL, when --remote-cache is not given"},
      {"LAVABUILD_REMOTE_HEADER",
       "a header for the remote cache ('Authorization: Bearer ...'), when --remote-header is "
       "not given"},
      {"NO_COLOR", "set and not empty: no colour (https://no-color.org)"},
      {"TERM", "dumb: plain lines on a terminal too (no status line redrawn in place)"},
  };
  return m;
}

const CommandHelp* command_help(const std::string& command) {
  static const std::vector<std::string> net_vars = {
      "LAVABUILD_CACHE_DIR", "XDG_CACHE_HOME",      "LAVABUILD_PYTHON",    "LAVABUILD_INDEX_URL",
      "PIP_INDEX_URL",       "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",      "LAVABUILD_OFFLINE",
      "LAVABUILD_NO_INDEX",  "LAVABUILD_CONFIG",    "LAVABUILD_NO_CONFIG", "XDG_CONFIG_HOME"};
  auto with = [](std::vector<std::string> v, std::initializer_list<const char*> more) {
    for (const char* m : more) v.push_back(m);
    return v;
  };
  static const std::map<std::string, CommandHelp> m = {
      {"env",
       {"lavabuild env [REQ_FILE|pylock.toml ...] [-o DIR] [OPTIONS]",
        "make or update a virtual environment (default .venv) from requirement files or a lock",
        {"help",
         "requirement",
         "constraint",
         "output",
         "python",
         "index-url",
         "extra-index-url",
         "find-links",
         "no-index",
         "offline",
         "require-hashes",
         "pre",
         "upgrade",
         "upgrade-package",
         "reinstall",
         "reinstall-package",
         "seed",
         "no-compile",
         "no-binary",
         "only-binary",
         "config-settings",
         "build-timeout",
         "recipes",
         "jobs",
         "timeout",
         "cache-dir",
         "link-mode",
         "locked",
         "remote-cache",
         "remote-read-only",
         "remote-timeout",
         "remote-header",
         "remote-ca",
         "signing-key",
         "trusted-key",
         "json",
         "quiet",
         "verbose",
         "config",
         "no-config"},
        with(net_vars, {"LAVABUILD_LINK_MODE", "LAVABUILD_JOBS", "LAVABUILD_OUTPUT",
                        "LAVABUILD_REMOTE_CACHE", "LAVABUILD_REMOTE_HEADER", "NO_COLOR", "TERM"})}},
      {"plan",
       {"lavabuild plan REQ_FILE ... [--format text|dot|json] [OPTIONS]",
        "show the step graph: what a run of `lavabuild env` would do, and why",
        {"help",         "requirement",      "constraint",      "output",
         "python",       "index-url",        "extra-index-url", "find-links",
         "no-index",     "offline",          "require-hashes",  "pre",
         "seed",         "no-compile",       "timeout",         "cache-dir",
         "no-binary",    "only-binary",      "config-settings", "build-timeout",
         "recipes",      "link-mode",        "locked",          "format",
         "remote-cache", "remote-read-only", "remote-timeout",  "remote-header",
         "remote-ca",    "signing-key",      "trusted-key",     "quiet",
         "config",       "no-config"},
        with(net_vars, {"LAVABUILD_LINK_MODE", "LAVABUILD_REMOTE_CACHE", "LAVABUILD_REMOTE_HEADER",
                        "NO_COLOR", "TERM"})}},
      {"lock",
       {"lavabuild lock REQ_FILE ... -o pylock.toml|- [OPTIONS]",
        "resolve, pin and hash into a PEP 751 lock file (`-o -`: to stdout)",
        {"help",
         "requirement",
         "constraint",
         "output",
         "python",
         "index-url",
         "extra-index-url",
         "find-links",
         "no-index",
         "offline",
         "require-hashes",
         "pre",
         "upgrade",
         "upgrade-package",
         "no-binary",
         "only-binary",
         "config-settings",
         "build-timeout",
         "recipes",
         "jobs",
         "timeout",
         "cache-dir",
         "remote-cache",
         "remote-read-only",
         "remote-timeout",
         "remote-header",
         "remote-ca",
         "signing-key",
         "trusted-key",
         "json",
         "quiet",
         "config",
         "no-config"},
        with(net_vars, {"LAVABUILD_JOBS", "LAVABUILD_REMOTE_CACHE", "LAVABUILD_REMOTE_HEADER",
                        "NO_COLOR", "TERM"})}},
      {"verify",
       {"lavabuild verify ENV [--json]",
        "compare an env with its manifest; exit 1 when they differ",
        {"help", "json"},
        {}}},
      {"cache",
       {"lavabuild cache stats|gc|verify|push|pull|keygen [ENV|pylock.toml] [--repair] "
        "[--max-size SIZE] [--dry-run] [--json] [--cache-dir DIR] [--remote-cache URL ...]",
        "inspect the store; `stats` counts every byte (and the remote cache's hit rate); "
        "`verify` re-hashes every file, `--repair` removes what is corrupt; `gc` removes what "
        "no live env, lock or instance uses, then (--max-size) least recently used envs' and "
        "locks' files until the store is under SIZE (500M, 2G, 1.5GiB, bytes); `push ENV|"
        "pylock.toml` publishes to the remote cache every build output they need (needs "
        "--signing-key), `pull pylock.toml` fetches them into the store before a deploy; "
        "`keygen` makes a key pair to sign remote cache entries (`lavabuild cache keygen --help`)",
        {"help",      "cache-dir",   "repair",       "max-size",       "dry-run",
         "json",      "python",      "remote-cache", "remote-timeout", "remote-header",
         "remote-ca", "signing-key", "trusted-key",  "index-url",      "find-links",
         "no-index",  "offline",     "name",         "secret-key",     "public-key"},
        {"LAVABUILD_CACHE_DIR", "XDG_CACHE_HOME", "LAVABUILD_REMOTE_CACHE",
         "LAVABUILD_REMOTE_HEADER"}}},
      {"instance",
       {"lavabuild instance ACTION [NAME] [OPTIONS]   (--root DIR, $LAVABUILD_ROOT, default "
        "/srv/lavabuild)\n"
        "  create NAME -r REQ|pylock.toml [--recipe FILE] [--env KEY=VALUE ...] [--user [USER]]\n"
        "         [--database postgresql] [--db-admin URL] [env options]\n"
        "  list [--json]                    instances, live generations, disk, processes\n"
        "  generations NAME [--json]        the generations and which one is live\n"
        "  upgrade NAME [-r REQ|pylock.toml] [-U] [-P NAME]   a new generation, switched to\n"
        "  rollback NAME [--to N]           switch back (default: the previous generation)\n"
        "  gc NAME --keep K                 remove all but the K newest generations\n"
        "  start|stop|restart NAME [PROCESS]   the recipe's processes\n"
        "  status NAME [PROCESS] [--json]   pid, state, uptime, restarts\n"
        "  logs NAME [PROCESS] [-n N] [--json]   the end of the processes' logs\n"
        "  backup NAME [--verify]           lock, etc/, var/, database dump, SHA256SUMS\n"
        "  restore NAME BACKUP              a backup (of any instance) as a new generation\n"
        "  remove NAME [--yes]              stop it and delete it with its data",
        "named instances of a service (production, staging, branches): each a series of "
        "generations (an env built from a lock, its recipe and requirements) with one live, "
        "its processes run by systemd or lavabuild's supervisor; see recipes/instances/README.md",
        {"help",
         "root",
         "requirement",
         "recipe",
         "env",
         "upgrade",
         "upgrade-package",
         "to",
         "keep",
         "lines",
         "yes",
         "json",
         "quiet",
         "python",
         "index-url",
         "extra-index-url",
         "find-links",
         "no-index",
         "offline",
         "cache-dir",
         "jobs",
         "no-compile",
         "remote-cache",
         "trusted-key",
         "signing-key",
         "database",
         "db-admin",
         "user",
         "verify"},
        with(net_vars, {"LAVABUILD_ROOT", "LAVABUILD_JOBS", "LAVABUILD_REMOTE_CACHE"})}},
      {"cache keygen",
       {"lavabuild cache keygen --name NAME --secret-key FILE --public-key FILE",
        "make an Ed25519 key pair to sign remote cache entries: the secret key goes to FILE "
        "(mode 0600; the signing host's remote.signing-key), the public key line to FILE and "
        "stdout (clients' remote.trusted-keys); existing files are never overwritten",
        {"help", "name", "secret-key", "public-key"},
        {}}},
  };
  auto it = m.find(command);
  return it == m.end() ? nullptr : &it->second;
}

/// The "configuration:" section of --help: which files, in which order, and their keys.
std::string config_help(bool project) {
  std::ostringstream ss;
  ss << "\nconfiguration (TOML; --no-config: none, --config FILE: only FILE):\n"
     << "  " << user_config_path() << "\n";
  if (project) ss << "  lavabuild.toml beside the first requirements file (wins over the above)\n";
  ss << "  command-line options and LAVABUILD_* variables win over config files, which win\n"
     << "  over PIP_* variables; a requirement file's -i wins over a config's index-url\n"
     << "  keys:";
  size_t col = 7;
  for (const auto& k : config_keys()) {
    if (col + k.size() + 1 > 90) ss << "\n       ", col = 7;
    ss << " " << k;
    col += k.size() + 1;
  }
  ss << "\n  (remote.* keys set the shared remote cache, as the --remote-* options; relative\n"
     << "  paths in a file are relative to it; an unknown key is an error)\n";
  return ss.str();
}

std::string render_command_help(const CommandHelp& h, const po::options_description& all) {
  po::options_description desc("options");
  for (const auto& name : h.options)
    for (const auto& d : all.options())
      if (d->long_name() == name) desc.add(d);
  std::ostringstream ss;
  ss << "usage: " << h.usage << "\n\n" << h.what << "\n\n" << desc;
  std::vector<std::string> vars = h.variables;
  bool limits = std::find(vars.begin(), vars.end(), "LAVABUILD_OFFLINE") != vars.end();
  if (limits) {
    vars.push_back("LAVABUILD_MAX_*");
    vars.push_back("LAVABUILD_HTTP_*");
  }
  ss << "\nenvironment:\n";
  if (vars.empty()) ss << "  (none)\n";
  for (const auto& v : vars) {
    auto it = variable_help().find(v);
    char line[64];
    std::snprintf(line, sizeof line, "  %-22s", v.c_str());
    ss << line << (it == variable_help().end() ? "" : it->second) << "\n";
  }
  if (limits) {
    ss << "  (";
    for (size_t i = 0; i < kLimitVariables.size(); ++i)
      ss << (i ? (i % 3 == 0 ? ",\n   " : ", ") : "") << kLimitVariables[i];
    ss << ")\n";
  }
  bool has_config = std::find(h.options.begin(), h.options.end(), "config") != h.options.end();
  if (has_config)
    ss << config_help(std::string_view(h.usage).find("REQ_FILE") != std::string::npos);
  return ss.str();
}

}  // namespace

std::string suggest_command(const std::string& typed) {
  return closest_word(typed, kCommands);
}

std::string version_text() {
  return std::string("lavabuild ") + LAVABUILD_VERSION + "\n";
}

std::string default_cache_dir() {
  std::string dir = env_or("LAVABUILD_CACHE_DIR", "");
  if (!dir.empty()) return dir;
  std::string xdg = env_or("XDG_CACHE_HOME", "");
  if (!xdg.empty()) return xdg + "/lavabuild";
  return env_or("HOME", "/tmp") + "/.cache/lavabuild";
}

namespace {

/// What the command line gives that Options has no field for, before defaults and checks.
struct RawArgs {
  std::vector<std::string> reqs;  ///< -r
  std::string index_url, jobs_text, config_file, max_size;
  std::vector<std::string> no_binary, only_binary, config_settings;
  bool no_config = false;
  // The remote cache (engine::RemoteOptions), over the config's [remote] table.
  std::string remote_cache, remote_ca, signing_key;
  std::vector<std::string> remote_headers, trusted_keys;
  std::vector<std::string> instance_env;
  double remote_timeout = 0;
  bool remote_read_only = false;
};

/// The options, their help lines, and where each value goes.
po::options_description define_options(Options& o, RawArgs& raw) {
  po::options_description desc("options");
  desc.add_options()("help,h", "show this help (`lavabuild COMMAND --help`: its options)")(
      "version", "print the version")("requirement,r",
                                      po::value<std::vector<std::string>>(&raw.reqs),
                                      "requirements file (repeatable)")(
      "constraint,c", po::value<std::vector<std::string>>(&o.constraints),
      "constraints file (repeatable)")("output,o", po::value<std::string>(&o.output),
                                       "env directory (env, default .venv) or lock file (lock)")(
      "python", po::value<std::string>(&o.python),
      "interpreter path, name or version (default python3)")(
      "index-url,i", po::value<std::string>(&raw.index_url), "base URL of the package index")(
      "extra-index-url", po::value<std::vector<std::string>>(&o.extra_index_urls),
      "additional index")("find-links,f", po::value<std::vector<std::string>>(&o.find_links),
                          "directory or page of archives")("no-index", po::bool_switch(&o.no_index),
                                                           "ignore package indexes")(
      "offline", po::bool_switch(&o.offline), "use only the cache, no network")(
      "require-hashes", po::bool_switch(&o.require_hashes), "every requirement needs --hash")(
      "pre", po::bool_switch(&o.pre), "allow pre-releases")(
      "upgrade,U", po::bool_switch(&o.upgrade),
      "env, lock: ignore the existing pins, move to the newest allowed versions")(
      "upgrade-package,P", po::value<std::vector<std::string>>(&o.upgrade_packages),
      "env, lock: ignore the existing pin of this package (repeatable)")(
      "reinstall", po::bool_switch(&o.reinstall),
      "env: link every distribution afresh, even when the env has it intact")(
      "reinstall-package", po::value<std::vector<std::string>>(&o.reinstall_packages),
      "env: link this distribution afresh (repeatable)")("seed", po::bool_switch(&o.seed),
                                                         "also install pip into the env")(
      "no-compile", po::bool_switch(&o.no_compile),
      "do not put bytecode (__pycache__/*.pyc) beside the modules; by default it is compiled "
      "once per source file and interpreter into the store and linked like the sources")(
      "no-binary", po::value<std::vector<std::string>>(&raw.no_binary),
      "build these projects from source (comma-separated names or :all:, as pip)")(
      "only-binary", po::value<std::vector<std::string>>(&raw.only_binary),
      "never build these projects from source (names or :all:)")(
      "config-settings,C", po::value<std::vector<std::string>>(&raw.config_settings),
      "KEY=VALUE passed to every PEP 517 build backend (repeatable)")(
      "build-timeout", po::value<long>(&o.build_timeout),
      "seconds a build backend hook may run before it is stopped (default 3600)")(
      "recipes", po::value<std::string>(&o.recipes_dir),
      "folder of build recipes: <name>.toml with patches, build requirements, variables")(
      "jobs,j", po::value<std::string>(&raw.jobs_text),
      "parallel steps, 1 to 1024 (default: cores)")(
      "timeout", po::value<long>(&o.timeout),
      "seconds a connection may stall (default 30, $LAVABUILD_HTTP_TIMEOUT)")(
      "cache-dir", po::value<std::string>(&o.cache_dir),
      "the store (default $XDG_CACHE_HOME/lavabuild)")(
      "link-mode", po::value<std::string>(&o.link_mode), "hardlink|clone|copy")(
      "locked", po::value<std::string>(&o.locked), "fail unless the requirements match this lock")(
      "format", po::value<std::string>(&o.format), "plan output: text|dot|json")(
      "remote-cache", po::value<std::string>(&raw.remote_cache),
      "share build outputs through this cache: http(s)://HOST/BASE (Bazel HTTP cache, e.g. "
      "nginx WebDAV) or grpc(s)://HOST:PORT[/INSTANCE] (REAPI v2)")(
      "remote-read-only", po::bool_switch(&raw.remote_read_only),
      "never upload to the remote cache (without --signing-key nothing is uploaded anyway)")(
      "remote-timeout", po::value<double>(&raw.remote_timeout),
      "seconds one remote cache request may take (default 5); a slower remote is dropped "
      "for the run")("remote-header", po::value<std::vector<std::string>>(&raw.remote_headers),
                     "'Name: value' sent to the remote cache, e.g. 'Authorization: Bearer TOKEN' "
                     "(repeatable; $LAVABUILD_REMOTE_HEADER)")(
      "remote-ca", po::value<std::string>(&raw.remote_ca),
      "PEM file of CA certificates for the remote cache's TLS (default: the system's)")(
      "signing-key", po::value<std::string>(&raw.signing_key),
      "secret key file (`lavabuild cache keygen`): sign and upload what this run builds")(
      "trusted-key", po::value<std::vector<std::string>>(&raw.trusted_keys),
      "public key file (or NAME:BASE64) whose remote entries are believed (repeatable)")(
      "json", po::bool_switch(&o.json), "one JSON object on stdout")(
      "repair", po::bool_switch(&o.repair),
      "cache verify: remove corrupt files and the entries that need them")(
      "max-size", po::value<std::string>(&raw.max_size),
      "cache gc: then evict least recently used roots until the store is under SIZE")(
      "dry-run", po::bool_switch(&o.dry_run), "cache gc: list what would go, change nothing")(
      "name", po::value<std::string>(&o.key_name),
      "cache keygen: the key's name, 1-128 of A-Z a-z 0-9 . _ - (e.g. ci.example.org-1)")(
      "secret-key", po::value<std::string>(&o.secret_key_file),
      "cache keygen: new file for the secret key")("public-key",
                                                   po::value<std::string>(&o.public_key_file),
                                                   "cache keygen: new file for the public key")(
      "root", po::value<std::string>(&o.root),
      "instance: where instances live (default $LAVABUILD_ROOT, else /srv/lavabuild)")(
      "recipe", po::value<std::string>(&o.recipe),
      "instance create: the recipe (processes, environment, hooks; recipes/instances/)")(
      "env", po::value<std::vector<std::string>>(&raw.instance_env),
      "instance create: KEY=VALUE over the recipe's [environment] (repeatable)")(
      "to", po::value<int>(), "instance rollback: the generation to switch to")(
      "keep", po::value<int>(&o.keep), "instance gc: how many generations to keep")(
      "lines,n", po::value<size_t>(&o.lines), "instance logs: how many lines (default 50)")(
      "yes", po::bool_switch(&o.yes), "instance remove: do not ask")(
      "user", po::value<std::string>()->implicit_value(""),
      "instance create: run processes and hooks as this user (alone: a system user lb-NAME)")(
      "database", po::value<std::string>(&o.database),
      "instance create: postgresql, a role and database of the instance's own")(
      "db-admin", po::value<std::string>(&o.db_admin),
      "instance create: the PostgreSQL superuser connection (libpq URL without a password: "
      "that goes in ~/.pgpass or PGPASSWORD; default PGHOST, PGPORT, PGUSER)")(
      "verify", po::bool_switch(&o.verify),
      "instance backup: restore it into a scratch instance and compare")(
      "verbose,v", po::value<int>()->implicit_value(1)->zero_tokens(),
      "explain why each step runs")(
      "quiet,q", po::bool_switch(&o.quiet),
      "print only warnings and errors (and, with --json, the JSON); no progress")(
      "config", po::value<std::string>(&raw.config_file),
      "read this config file instead of the user's and the "
      "project's")("no-config", po::bool_switch(&raw.no_config), "read no config file");
  return desc;
}

/// Parse argv against `desc` (the words that are no option go to "args").
Status read_command_line(int argc, char** argv, const po::options_description& desc,
                         po::variables_map& vm) {
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return make_error(std::string("usage: ") + e.what(), "run `lavabuild --help`");
  }
  return {};
}

/// The first word is the command (checked against kCommands); `cache` takes an action next.
Status take_command(Options& o, std::vector<std::string>& args) {
  if (args.empty()) return make_error("usage: missing command", "run `lavabuild --help`");
  o.command = args.front();
  args.erase(args.begin());
  if (std::find(kCommands.begin(), kCommands.end(), o.command) == kCommands.end()) {
    std::string near = suggest_command(o.command);
    return make_error("usage: unknown command '" + o.command + "'" +
                          (near.empty() ? "" : "; did you mean '" + near + "'?"),
                      "run `lavabuild --help`");
  }
  return {};
}

/// Options that mean the same for every command: accepted by all of them.
const std::vector<std::string> kGlobalOptions = {"help",      "quiet",  "verbose",
                                                 "cache-dir", "config", "no-config"};

/// An option given on the command line that the command does not take is a usage error (it
/// would do nothing), as are words left over after what the command takes.
Status check_options_apply(const Options& o, const po::variables_map& vm) {
  const bool keygen = o.command == "cache" && o.cache_action == "keygen";
  const std::string name = keygen ? "cache keygen" : o.command;
  const CommandHelp* help = command_help(name);
  if (!help) return {};
  std::set<std::string> allowed(help->options.begin(), help->options.end());
  allowed.insert(kGlobalOptions.begin(), kGlobalOptions.end());
  if (o.command == "instance")  // create and upgrade take env's options for the generation
    for (const auto& opt : command_help("env")->options) allowed.insert(opt);
  for (const auto& [opt, value] : vm) {
    if (opt == "args" || value.defaulted() || allowed.count(opt)) continue;
    return make_error("usage: --" + opt + " does not apply to `lavabuild " + name + "`",
                      o.command == "plan" && opt == "json"
                          ? "`lavabuild plan --format json` gives the plan as JSON"
                          : "`lavabuild " + name + " --help` lists its options");
  }
  const bool takes_no_words =
      o.command == "cache" && o.cache_action != "push" && o.cache_action != "pull";
  if (takes_no_words && !o.inputs.empty())
    return make_error("usage: lavabuild cache " + o.cache_action + " takes no argument, not '" +
                          o.inputs.front() + "'",
                      "`lavabuild " + name + " --help` lists its options");
  return {};
}

/// `instance ACTION ...`: the action (checked), --root, --env, --to.
Status take_instance_action(Options& o, const RawArgs& raw, const po::variables_map& vm,
                            std::vector<std::string>& args) {
  if (args.empty())
    return make_error(
        "usage: lavabuild instance ACTION [NAME] (" + join(kInstanceActions, ", ") + ")",
        "`lavabuild instance --help` shows each action's options");
  o.instance_action = args.front();
  args.erase(args.begin());
  if (std::find(kInstanceActions.begin(), kInstanceActions.end(), o.instance_action) ==
      kInstanceActions.end()) {
    std::string near = closest_word(o.instance_action, kInstanceActions);
    return make_error("usage: unknown instance action '" + o.instance_action + "'" +
                          (near.empty() ? "" : "; did you mean '" + near + "'?"),
                      "the actions: " + join(kInstanceActions, ", "));
  }
  if (o.root.empty()) o.root = env_or("LAVABUILD_ROOT", "/srv/lavabuild");
  for (const auto& kv : raw.instance_env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error("usage: --env " + kv + " is not KEY=VALUE");
    o.instance_env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (vm.count("to")) o.to = vm["to"].as<int>();
  if (vm.count("user")) o.instance_user = vm["user"].as<std::string>();
  bool needs_name = o.instance_action != "list";
  if (needs_name && args.empty())
    return make_error("usage: lavabuild instance " + o.instance_action + " NAME");
  size_t max_args = o.instance_action == "list" ? 0
                    : (o.instance_action == "start" || o.instance_action == "stop" ||
                       o.instance_action == "restart" || o.instance_action == "status" ||
                       o.instance_action == "logs" || o.instance_action == "restore")
                        ? 2
                        : 1;
  if (args.size() > max_args)
    return make_error("usage: lavabuild instance " + o.instance_action + ": unexpected '" +
                      args[max_args] + "'");
  if (o.instance_action == "create" && raw.reqs.size() != 1)
    return make_error("usage: lavabuild instance create NAME -r REQ|pylock.toml (one file)");
  if (o.instance_action == "upgrade" && raw.reqs.size() > 1)
    return make_error("usage: lavabuild instance upgrade NAME [-r REQ|pylock.toml] (one file)");
  if (o.instance_action == "restore" && args.size() != 2)
    return make_error("usage: lavabuild instance restore NAME BACKUP");
  if (o.instance_action == "gc" && !vm.count("keep"))
    return make_error("usage: lavabuild instance gc NAME --keep K");
  return {};
}

/// Read the config files (none with --no-config): the user's and the project's, beside the
/// first requirements file (or lock), or the one --config / LAVABUILD_CONFIG names.
Result<ConfigFile> read_config(Options& o, RawArgs& raw) {
  if (raw.config_file.empty()) raw.config_file = env_or("LAVABUILD_CONFIG", "");
  if (!raw.no_config) raw.no_config = env_flag("LAVABUILD_NO_CONFIG");
  if (raw.no_config && !raw.config_file.empty())
    return make_error(
        "usage: --config and --no-config (or LAVABUILD_NO_CONFIG) exclude each "
        "other",
        "leave one of them out");
  ConfigFile cfg;
  if (raw.no_config) return cfg;
  std::string project_dir;
  bool has_project = o.command == "env" || o.command == "plan" || o.command == "lock";
  if (has_project && !o.inputs.empty() && o.inputs.front() != "-")
    project_dir = fs::dirname(fs::absolute(o.inputs.front()));
  LB_ASSIGN(cfg, load_config(raw.config_file, project_dir));
  o.config_files = cfg.files;
  o.remote = cfg.remote;
  return cfg;
}

/// Where packages come from, for what the command line left unset: LAVABUILD_* variables,
/// then the config files, then pip's variables.
void apply_index_defaults(Options& o, const ConfigFile& cfg) {
  if (!o.index_url) {
    std::string v = env_or("LAVABUILD_INDEX_URL", "");
    if (!v.empty()) o.index_url = v;
  }
  // Below a requirement file's -i (Context::init_index), as pip's config and PIP_INDEX_URL are.
  if (!o.index_url) {
    std::string v = env_or("PIP_INDEX_URL", "");
    if (cfg.index_url)
      o.default_index_url = cfg.index_url;
    else if (!v.empty())
      o.default_index_url = v;
  }
  if (o.extra_index_urls.empty())
    o.extra_index_urls = cfg.extra_index_urls ? *cfg.extra_index_urls
                                              : split_whitespace(env_or("PIP_EXTRA_INDEX_URL", ""));
  if (o.find_links.empty())
    o.find_links =
        cfg.find_links ? *cfg.find_links : split_whitespace(env_or("PIP_FIND_LINKS", ""));
  if (!o.offline) o.offline = env_flag("LAVABUILD_OFFLINE");
  if (!o.no_index) {
    // A set LAVABUILD_NO_INDEX decides either way (=0 overrides a config's no-index = true).
    o.no_index = env_or("LAVABUILD_NO_INDEX", "").empty() ? cfg.no_index.value_or(false)
                                                          : env_flag("LAVABUILD_NO_INDEX");
  }
  if (!o.pre) o.pre = cfg.pre.value_or(false);
}

/// The remote cache: the command line, then LAVABUILD_REMOTE_*, over the config's [remote].
Status apply_remote_options(engine::RemoteOptions& r, const RawArgs& raw,
                            const po::variables_map& vm) {
  if (!raw.remote_cache.empty())
    r.cache = raw.remote_cache;
  else if (std::string v = env_or("LAVABUILD_REMOTE_CACHE", ""); !v.empty())
    r.cache = v;
  if (raw.remote_read_only) r.read_only = true;
  if (vm.count("remote-timeout")) {
    if (!(raw.remote_timeout > 0) || raw.remote_timeout > 86400)
      return make_error("usage: --remote-timeout must be a number of seconds above 0");
    r.timeout_ms = long(raw.remote_timeout * 1000);
  }
  std::vector<std::string> headers = raw.remote_headers;
  if (headers.empty())
    if (std::string v = env_or("LAVABUILD_REMOTE_HEADER", ""); !v.empty()) headers.push_back(v);
  if (!headers.empty()) r.headers.clear();
  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || trim(h.substr(0, colon)).empty())
      // The value may be a secret: only the name part is shown.
      return make_error("usage: a remote cache header must be 'Name: value' (one given has " +
                        std::string(colon == std::string::npos ? "no ':'" : "no name") + ")");
    r.headers[std::string(trim(h.substr(0, colon)))] = std::string(trim(h.substr(colon + 1)));
  }
  if (!raw.remote_ca.empty()) r.ca = fs::absolute(raw.remote_ca);
  if (!raw.signing_key.empty()) r.signing_key = fs::absolute(raw.signing_key);
  for (const auto& k : raw.trusted_keys)  // a file, or the key's text itself
    r.trusted_keys.push_back(fs::exists(k) ? fs::absolute(k) : k);
  return {};
}

/// How and where a run works, for what the command line left unset: LAVABUILD_* variables,
/// then the config files, then the defaults. Fails on a bad LAVABUILD_JOBS.
Status apply_run_defaults(Options& o, const RawArgs& raw, const po::variables_map& vm,
                          const ConfigFile& cfg) {
  if (o.cache_dir.empty()) {
    std::string v = env_or("LAVABUILD_CACHE_DIR", "");
    o.cache_dir = !v.empty() ? v : cfg.cache_dir ? *cfg.cache_dir : default_cache_dir();
  }
  if (o.python.empty()) o.python = env_or("LAVABUILD_PYTHON", cfg.python.value_or(""));
  if (!vm.count("link-mode"))
    o.link_mode = env_or("LAVABUILD_LINK_MODE", cfg.link_mode.value_or(o.link_mode));
  if (vm.count("jobs")) {
    LB_ASSIGN(o.jobs, parse_jobs(raw.jobs_text, "-j/--jobs"));
  } else if (std::string v = env_or("LAVABUILD_JOBS", ""); !v.empty()) {
    LB_ASSIGN(o.jobs, parse_jobs(v, "LAVABUILD_JOBS"));
  } else if (cfg.jobs) {
    o.jobs = *cfg.jobs;
  } else {
    o.jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  }
  // LAVABUILD_HTTP_TIMEOUT is read with the other limits (net::Limits); it wins over a config.
  if (!vm.count("timeout") && cfg.timeout && env_or("LAVABUILD_HTTP_TIMEOUT", "").empty())
    o.timeout = *cfg.timeout;
  if (o.output.empty() && o.command == "env") o.output = env_or("LAVABUILD_OUTPUT", ".venv");
  if (o.recipes_dir.empty() && cfg.recipes) o.recipes_dir = *cfg.recipes;
  if (!vm.count("build-timeout") && cfg.build_timeout) o.build_timeout = *cfg.build_timeout;
  return apply_remote_options(o.remote, raw, vm);
}

/// The usage errors of a complete set of options (exit 2); fills max_size from --max-size.
Status validate(Options& o, const RawArgs& raw, const po::variables_map& vm) {
  if (o.link_mode != "hardlink" && o.link_mode != "clone" && o.link_mode != "copy")
    return make_error("usage: --link-mode must be hardlink, clone or copy, not '" + o.link_mode +
                      "'");
  if (o.format != "text" && o.format != "dot" && o.format != "json")
    return make_error("usage: --format must be text, dot or json");
  if (o.command == "lock" && o.output.empty())
    return make_error("usage: lavabuild lock needs -o pylock.toml (or -o - for stdout)");
  if (o.command == "lock" && o.output == "-" && o.json)
    return make_error(
        "usage: lavabuild lock -o - writes the lock to stdout; --json cannot "
        "share it");
  if ((o.command == "plan" || o.command == "lock") && o.inputs.empty())
    return make_error("usage: lavabuild " + o.command + " needs a requirements file");
  if (o.command == "env" && o.inputs.empty())
    return make_error("usage: lavabuild env needs a requirements file or a pylock.toml",
                      "lavabuild env requirements.txt -o DIR");
  if (o.command == "cache" && std::find(kCacheActions.begin(), kCacheActions.end(),
                                        o.cache_action) == kCacheActions.end()) {
    std::string near = closest_word(o.cache_action, kCacheActions);
    return make_error("usage: lavabuild cache stats|gc|verify|push|pull|keygen, not '" +
                      o.cache_action + "'" +
                      (near.empty() ? "" : "; did you mean '" + near + "'?"));
  }
  if (o.command == "cache" && o.cache_action == "keygen" &&
      (o.key_name.empty() || o.secret_key_file.empty() || o.public_key_file.empty()))
    return make_error(
        "usage: lavabuild cache keygen needs --name, --secret-key and --public-key",
        "e.g. lavabuild cache keygen --name ci.example.org-1 --secret-key ci.sec --public-key "
        "ci.pub");
  if (o.command == "cache" && (o.cache_action == "push" || o.cache_action == "pull") &&
      o.inputs.size() != 1)
    return make_error("usage: lavabuild cache " + o.cache_action +
                      (o.cache_action == "push" ? " ENV|pylock.toml" : " pylock.toml"));
  if (!raw.max_size.empty()) {
    o.max_size = net::parse_size(raw.max_size);
    if (!o.max_size)
      return make_error("usage: --max-size " + raw.max_size + " is not a size",
                        "give bytes or a number with K, M, G or T (binary), e.g. 500M, 1.5GiB");
  }
  for (const auto& [list, from] :
       {std::pair{&o.no_binary, &raw.no_binary}, std::pair{&o.only_binary, &raw.only_binary}})
    for (const auto& v : *from)
      for (const auto& name : split(v, ','))
        if (!trim(name).empty())
          list->push_back(trim(name) == ":all:" || trim(name) == ":none:"
                              ? std::string(trim(name))
                              : pep::normalize_name(std::string(trim(name))));
  for (const auto& kv : raw.config_settings) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error("usage: --config-settings " + kv + " is not KEY=VALUE");
    o.config_settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (vm.count("build-timeout") && o.build_timeout <= 0)
    return make_error("usage: --build-timeout must be a positive number of seconds");
  if (!o.recipes_dir.empty()) {
    o.recipes_dir = fs::absolute(o.recipes_dir);
    if (!fs::is_dir(o.recipes_dir))
      return make_error("usage: --recipes " + o.recipes_dir + " is not a directory");
  }
  if (vm.count("timeout") && o.timeout <= 0)
    return make_error("usage: --timeout must be a positive number of seconds");
  if (o.command == "verify" && o.inputs.size() != 1)
    return make_error("usage: lavabuild verify ENV");
  if (o.quiet && o.verbose)
    return make_error("usage: -q/--quiet and -v/--verbose exclude each other",
                      "leave one of them out");
  return {};
}

}  // namespace

Result<Options> parse_options(int argc, char** argv, std::string& help_text) {
  Options o;
  RawArgs raw;
  po::options_description desc = define_options(o, raw);
  po::variables_map vm;
  LB_TRY(read_command_line(argc, argv, desc, vm));
  if (argc < 2)  // no command: the usage, as an error (exit 2)
    return make_error(std::string(kUsage).substr(0, std::string(kUsage).size() - 2),
                      "`lavabuild --help` lists the options, `lavabuild COMMAND --help` a "
                      "command's options and environment variables");
  if (vm.count("version")) {
    help_text = version_text();
    return o;
  }
  if (vm.count("verbose")) o.verbose = 1;
  std::vector<std::string> args;
  if (vm.count("args")) args = vm["args"].as<std::vector<std::string>>();
  if (vm.count("help") && args.empty()) {
    std::ostringstream ss;
    ss << kUsage << desc << config_help(true);
    help_text = ss.str();
    return o;
  }
  LB_TRY(take_command(o, args));
  if (vm.count("help")) {
    // `cache keygen --help` is keygen's own (its options differ from the store actions').
    bool keygen = o.command == "cache" && !args.empty() && args.front() == "keygen";
    help_text = render_command_help(*command_help(keygen ? "cache keygen" : o.command), desc);
    return o;
  }
  if (o.command == "cache") {
    if (args.empty()) return make_error("usage: lavabuild cache stats|gc|verify|keygen");
    o.cache_action = args.front();
    args.erase(args.begin());
  }
  if (o.command == "instance") LB_TRY(take_instance_action(o, raw, vm, args));
  o.inputs = args;
  for (auto& r : raw.reqs) (o.command == "instance" ? o.requirement_files : o.inputs).push_back(r);
  if (!raw.index_url.empty()) o.index_url = raw.index_url;
  // Config files fill what the command line and LAVABUILD_* variables leave unset, and rank
  // above pip's variables (the order is in config.hpp).
  LB_ASSIGN(ConfigFile cfg, read_config(o, raw));
  LB_TRY(apply_run_defaults(o, raw, vm, cfg));
  apply_index_defaults(o, cfg);
  LB_TRY(validate(o, raw, vm));
  LB_TRY(check_options_apply(o, vm));
  return o;
}

}  // namespace lb::cli
