// What a run is asked to do: the options env, plan and lock share, as the command layer
// parsed them (cli/options.hpp) or another caller (an instance) sets them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lb::engine {

/// The shared remote cache (remote/layer.hpp): the `[remote]` table of a config file, then
/// the --remote-* options over it.
struct RemoteOptions {
  std::string cache;  ///< http(s):// or grpc(s):// URL of the cache; empty: none
  /// Whose entries to believe: "name:base64(public key)", or the path of a public key file.
  std::vector<std::string> trusted_keys;
  std::string signing_key;                     ///< path of the secret key file (absolute)
  std::optional<bool> read_only;               ///< never upload
  std::optional<long> timeout;                 ///< seconds (config file)
  std::optional<long> timeout_ms;              ///< --remote-timeout (wins over `timeout`)
  std::map<std::string, std::string> headers;  ///< sent with every request
  std::string ca;                              ///< CA bundle path (absolute)
};

struct Options {
  std::string command;                   ///< env, plan, lock, verify, cache
  std::vector<std::string> inputs;       ///< requirement files, pylock.toml, or (verify) the env
  std::vector<std::string> constraints;  ///< -c: constraint files
  std::string output;                    ///< -o: env dir (env) or lock file (lock)
  std::string python;                    ///< --python
  std::optional<std::string> index_url;
  /// The index when neither -i, $LAVABUILD_INDEX_URL nor a requirement file's -i names one:
  /// a config file's index-url, else $PIP_INDEX_URL.
  std::optional<std::string> default_index_url;
  std::vector<std::string> extra_index_urls;
  std::vector<std::string> find_links;
  bool no_index = false;
  bool offline = false;
  bool require_hashes = false;
  bool pre = false;
  bool upgrade = false;                         ///< -U: ignore the pins of the existing env/lock
  std::vector<std::string> upgrade_packages;    ///< -P NAME: ignore the pin of NAME only
  bool reinstall = false;                       ///< --reinstall: link every distribution afresh
  std::vector<std::string> reinstall_packages;  ///< --reinstall-package NAME
  bool seed = false;
  bool no_compile = false;  ///< --no-compile: no bytecode in the env (pip's option)
  bool json = false;
  int verbose = 0;
  bool quiet = false;  ///< -q: only warnings, errors and the JSON
  int jobs = 0;        ///< 0: number of cores
  std::string cache_dir;
  std::string link_mode = "hardlink";
  std::string locked;           ///< --locked pylock.toml
  std::string format = "text";  ///< plan --format
  std::string cache_action;     ///< cache stats|gc|verify|keygen
  long timeout = 0;             ///< --timeout SECONDS (0: $LAVABUILD_HTTP_TIMEOUT or the default)
  bool repair = false;          ///< cache verify --repair
  std::vector<std::string> config_files;  ///< the config files read, lowest precedence first
  RemoteOptions remote;                   ///< config files' [remote] table
  std::optional<uint64_t> max_size;       ///< cache gc --max-size SIZE, in bytes
  bool dry_run = false;                   ///< cache gc --dry-run
  /// cache keygen --name NAME --secret-key FILE --public-key FILE (remote/sign.hpp).
  std::string key_name, secret_key_file, public_key_file;
  // Building from source (engine/source_build.hpp).
  /// --no-binary / --only-binary: normalised names or ":all:" (pip's spelling; a requirement
  /// file's options add to these).
  std::vector<std::string> no_binary, only_binary;
  /// Never build from source (build envs: their requirements come as wheels).
  bool no_build = false;
  /// --config-settings KEY=VALUE for every build (a requirement line's own come after).
  std::vector<std::pair<std::string, std::string>> config_settings;
  long build_timeout = 3600;  ///< --build-timeout SECONDS: a backend hook is stopped after it
  std::string recipes_dir;    ///< --recipes DIR: per-project build recipes (absolute)
  // `instance` (instance/instance.hpp); the command layer's alone.
  std::string instance_action;                 ///< create, list, upgrade, ...
  std::string root;                            ///< --root, $LAVABUILD_ROOT, default /srv/lavabuild
  std::vector<std::string> requirement_files;  ///< instance: -r (not in inputs)
  std::vector<std::pair<std::string, std::string>> instance_env;  ///< --env KEY=VALUE
  std::string recipe;                                             ///< --recipe FILE
  int keep = 0;                                                   ///< gc --keep K
  std::optional<int> to;                                          ///< rollback --to N
  size_t lines = 50;                                              ///< logs -n N
  bool yes = false;                                               ///< remove --yes
  std::optional<std::string> instance_user;  ///< create --user [NAME] ("": lb-NAME)
  std::string database, db_admin;            ///< create --database, --db-admin
  bool verify = false;                       ///< backup --verify
};

}  // namespace lb::engine
