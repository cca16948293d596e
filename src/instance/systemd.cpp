#include "instance/systemd.hpp"

#include "instance/supervisor.hpp"
#include "util/fs.hpp"

namespace lb::instance {
namespace {

/// A word for a unit's ExecStart=, double-quoted: systemd's own escapes, and '$' and '%'
/// doubled so that systemd expands neither (the shell expands ${VAR}).
std::string exec_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '$')
      out += "$$";
    else if (c == '%')
      out += "%%";
    else
      out += c;
  }
  return out + "\"";
}

/// A path in a unit file: '%' is a specifier there.
std::string unit_path(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

}  // namespace

std::string unit_name(const std::string& instance, const std::string& process) {
  return "lavabuild-" + instance + "-" + process + ".service";
}

std::string render_unit(const Paths& p, const std::string& instance, const std::string& process,
                        const std::string& command, const std::string& user) {
  std::string u;
  u += "# Written by lavabuild for instance " + instance +
       "; `lavabuild instance upgrade` writes it again.\n";
  u += "[Unit]\n";
  u += "Description=lavabuild instance " + instance + ": " + process + "\n";
  u += "After=network.target\n";
  // The supervisor's rule: giving up after kGiveUpAfter fast exits.
  u += "StartLimitIntervalSec=" + std::to_string(kFastExit.count() * kGiveUpAfter) + "\n";
  u += "StartLimitBurst=" + std::to_string(kGiveUpAfter) + "\n\n";
  u += "[Service]\n";
  u += "Type=exec\n";
  if (!user.empty()) u += "User=" + user + "\n";
  u += "EnvironmentFile=" + unit_path(p.env_file()) + "\n";
  u += "WorkingDirectory=" + unit_path(p.var) + "\n";
  // The shell opens the log, as the unit's User=: systemd's own StandardOutput=append: would
  // open it as root, through whatever symlink that user put in log/ (which it owns).
  u += "ExecStart=/bin/sh -c " +
       exec_quote("exec >>\"${INSTANCE_LOG}/" + process + ".log\" 2>&1 </dev/null; " + command) +
       "\n";
  u += "Restart=on-failure\n";
  u += "RestartSec=1\n";
  u += "KillMode=control-group\n";
  u += "TimeoutStopSec=" + std::to_string(kStopTimeout.count()) + "\n";
  u += "\n";
  u += "[Install]\n";
  u += "WantedBy=multi-user.target\n";
  return u;
}

bool systemd_running() {
  return fs::is_dir("/run/systemd/system");
}

}  // namespace lb::instance
